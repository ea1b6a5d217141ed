"""The trainer loop (the seed's ``get_request()`` / ``send_response()``) over a ModelProxy's ``/trainer/*`` routes.

A ``swerex proxy --policy.type=trainer`` or a ``swerex run-batch --policy.type=trainer`` (which prints
``TRAINER_URL=...``) parks every model call its agents make until a trainer answers it::

    async with TrainerClient(trainer_url) as trainer:
        while (call := await trainer.next_call(wait=30)) is not None or agents_running():
            if call is None:
                continue
            out = my_engine.generate(call.request["messages"], tools=call.request.get("tools"))
            await trainer.answer(call.request_id, content=out.text, finish_reason="stop",
                                 prompt_token_ids=out.prompt_ids, completion_token_ids=out.ids,
                                 logprobs=out.logprobs)

Token ids and logprobs given here are recorded with the call and make up the rollout's verl fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._bodies import given, policy_response
from ._http import DEFAULT_REQUEST_TIMEOUT_S, MAX_LONG_POLL_S, HttpBase



@dataclass
class TrainerCall:
    """One model call waiting for an answer: the agent's OpenAI request as it sent it."""

    request_id: str
    session_id: str
    step: int
    request: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainerCall:
        return cls(
            request_id=data["request_id"],
            session_id=data["session_id"],
            step=int(data["step"]),
            request=data["request"],
            metadata=data.get("metadata") or {},
        )


class TrainerClient(HttpBase):
    """``url`` is the proxy's root (``TRAINER_URL``); ``token`` its ``--trainer_token``, if it has one."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S):
        super().__init__(url, None, timeout=timeout)
        if token:
            self._headers = {"Authorization": f"Bearer {token}"}

    async def __aenter__(self) -> TrainerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def next_call(self, *, wait: float = 30.0, session_id: str | None = None) -> TrainerCall | None:
        """The oldest call nobody has taken, or None when none came within ``wait`` seconds (at most 60)."""
        wait = max(0.0, min(wait, MAX_LONG_POLL_S))
        params = {"wait": str(wait)}
        if session_id is not None:
            params["session_id"] = session_id
        body = await self._long_poll("/trainer/requests", params, wait)
        return None if body is None else TrainerCall.from_dict(body)

    async def answer(
        self,
        request_id: str,
        *,
        content: str | None,
        finish_reason: str = "stop",
        tool_calls: list[dict[str, Any]] | None = None,
        usage: dict[str, int] | None = None,
        prompt_token_ids: list[int] | None = None,
        completion_token_ids: list[int] | None = None,
        logprobs: list[float] | None = None,
        **extra: Any,
    ) -> None:
        """Answers a call (a ``PolicyResponse``). ``extra``: ``model``, ``id``, ``reasoning_content``, ...

        Raises :class:`SwerexAPIError` 404 when the call is gone (answered, timed out, or its agent hung up).
        """
        body = policy_response(
            content,
            finish_reason,
            tool_calls=tool_calls,
            usage=usage,
            prompt_token_ids=prompt_token_ids,
            completion_token_ids=completion_token_ids,
            logprobs=logprobs,
            **extra,
        )
        await self._call("POST", f"/trainer/responses/{request_id}", json=body)

    async def error(
        self,
        request_id: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        type: str | None = None,  # noqa: A002 - OpenAI's field name
    ) -> None:
        """Fails a call: its agent gets an OpenAI error with this status (default 500) and code."""
        body = given(message=message, status=status, code=code, type=type)
        await self._call("POST", f"/trainer/errors/{request_id}", json=body)
