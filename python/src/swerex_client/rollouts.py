"""Rollouts on a ``swerex serve`` control plane (``/v1/rollouts``) and the trainer loop over ``/v1/calls``.

    async with SwerexClient(url, api_key) as client:
        rollout = await client.create_rollout(task, policy={"type": "trainer"})
        while (call := await client.next_call(rollout.id, timeout=30)) is not None or not (
            await client.get_rollout(rollout.id)
        ).done:
            if call is not None:
                await client.answer_call(call.call_id, content=..., prompt_token_ids=..., completion_token_ids=...)
        result = (await client.wait_rollout(rollout.id)).result   # patch, reward, score, verl, ...

Token ids and logprobs given to :meth:`RolloutsMixin.answer_call` reach the rollout's trajectory and verl fields.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ._bodies import given, list_params, policy_response
from ._http import MAX_LONG_POLL_S, HttpBase

#: States after which a rollout never changes again.
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})
#: How often :meth:`RolloutsMixin.wait_rollout` looks (seconds).
WAIT_POLL_S = 0.5


@dataclass
class Rollout:
    """A rollout record; ``result`` is run-batch's result record once it is done (``None`` in lists)."""

    id: str
    state: str
    instance_id: str = ""
    sandbox_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rollout:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "raw"}
        return cls(**known, raw=data)

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass
class RolloutPage:
    items: list[Rollout]
    next_cursor: str | None = None


@dataclass
class ModelCall:
    """One model call of a rollout waiting for its answer: the agent's OpenAI chat request."""

    call_id: str
    rollout_id: str
    step: int
    request: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCall:
        return cls(
            call_id=data["call_id"], rollout_id=data["rollout_id"], step=int(data["step"]), request=data["request"]
        )


class RolloutsMixin(HttpBase):
    """Rollout and call methods of :class:`~swerex_client.SwerexClient`."""

    async def create_rollout(
        self,
        task: dict[str, Any],
        *,
        policy: dict[str, Any] | None = None,
        agent: dict[str, Any] | None = None,
        reward: dict[str, Any] | None = None,
        deployment: dict[str, Any] | None = None,
        max_steps: int | None = None,
        max_turns: int | None = None,
        swe_agent_timeout: float | None = None,
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Rollout:
        """``POST /v1/rollouts`` (run-batch's keys and defaults; ``policy`` default ``{"type": "trainer"}``).

        The task's repository comes inline (``repo_content``), as an absolute ``repo_dir`` on the service's
        machine, or in the sandbox image.
        """
        body: dict[str, Any] = {"task": task, "policy": policy or {"type": "trainer"}}
        for key, value in (
            ("agent", agent),
            ("reward", reward),
            ("deployment", deployment),
            ("max_steps", max_steps),
            ("max_turns", max_turns),
            ("swe_agent_timeout", swe_agent_timeout),
            ("metadata", metadata),
        ):
            if value is not None:
                body[key] = value
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        created = await self._call("POST", "/v1/rollouts", json=body, headers=headers)
        return Rollout.from_dict(created)

    async def get_rollout(self, rollout_id: str) -> Rollout:
        return Rollout.from_dict(await self._call("GET", f"/v1/rollouts/{rollout_id}"))

    async def list_rollouts(
        self,
        *,
        state: str | None = None,
        metadata: dict[str, str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> RolloutPage:
        """One page of ``GET /v1/rollouts`` (results left out)."""
        params = list_params(state, metadata, limit, cursor)
        page = await self._call("GET", "/v1/rollouts", params=params)
        return RolloutPage([Rollout.from_dict(r) for r in page.get("items", [])], page.get("next_cursor"))

    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        """``DELETE /v1/rollouts/{id}``: cancels it (its sandbox is stopped); a finished one comes back as is."""
        return Rollout.from_dict(await self._call("DELETE", f"/v1/rollouts/{rollout_id}"))

    async def wait_rollout(self, rollout_id: str, *, timeout: float | None = None) -> Rollout:
        """The rollout once it is done; :class:`asyncio.TimeoutError` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rollout = await self.get_rollout(rollout_id)
            if rollout.done:
                return rollout
            if deadline is not None and time.monotonic() > deadline:
                raise asyncio.TimeoutError(f"rollout {rollout_id} is still {rollout.state} after {timeout} s")
            await asyncio.sleep(WAIT_POLL_S)

    async def next_call(self, rollout_id: str | None = None, *, timeout: float = 30.0) -> ModelCall | None:
        """The next model call of ``rollout_id`` (or of any of this key's rollouts), or None when none came
        within ``timeout`` seconds (at most 60) or the rollout ended."""
        timeout = max(0.0, min(timeout, MAX_LONG_POLL_S))
        path = f"/v1/rollouts/{rollout_id}/calls/next" if rollout_id else "/v1/calls/next"
        body = await self._long_poll(path, {"timeout": str(timeout)}, timeout)
        return None if body is None else ModelCall.from_dict(body)

    async def answer_call(
        self,
        call_id: str,
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
        """``POST /v1/calls/{call_id}`` with a PolicyResponse. :class:`SwerexAPIError` 404 when the call is
        gone (answered, timed out, or its rollout ended)."""
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
        await self._call("POST", f"/v1/calls/{call_id}", json=body)

    async def fail_call(self, call_id: str, message: str, *, status: int = 500, code: str | None = None) -> None:
        """``POST /v1/calls/{call_id}/error``: the agent gets an OpenAI error with this status and code."""
        body = given(status=status, message=message, code=code)
        await self._call("POST", f"/v1/calls/{call_id}/error", json=body)
