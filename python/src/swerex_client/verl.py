"""``SwerexAgentLoop``: a verl agent loop (registered as ``swe_agent``) whose rollouts run on ``swerex serve``.

Matched against verl-project/verl commit ``1dda039b9c6311889a9c9a26040677e1254814f9``
(``verl/experimental/agent_loop/agent_loop.py``: ``AgentLoopBase``, ``AgentLoopOutput``, ``register``;
``server_manager.generate(request_id=, prompt_ids=, sampling_params=)`` -> ``TokenOutput(token_ids, log_probs)``).

What runs where: verl (this process, on the GPU node) owns the model; the service runs the sandbox, the
agent and the reward. For each dataset row, :meth:`SwerexAgentLoop.run` starts a rollout with
``policy.type=trainer``, and answers each model call the agent makes by applying the tokenizer's chat template
to the call's messages (with its tools), generating with ``server_manager.generate`` on token ids, and
posting the text, the token ids and the logprobs back. When the rollout ends, its verl fields (built by the
service from those ids) become the ``AgentLoopOutput``, truncated to ``response_length``; its score is the
``reward_score`` (``None`` for infrastructure failures, which a trainer should mask).

verl is imported only when ``SwerexAgentLoop`` is first used, so the rest of ``swerex_client`` works without
it. Configure with the agent-loop YAML entry (see docs/trainers.md)::

    - name: swe_agent
      _target_: swerex_client.verl.SwerexAgentLoop
      swerex_url: http://127.0.0.1:8080        # or $SWEREX_URL
      rollout: {max_steps: 30, deployment: {type: docker}}
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import Any

from .client import SwerexClient
from .exceptions import SwerexAPIError
from ._http import MAX_LONG_POLL_S
from .rollouts import Rollout

#: The verl commit whose agent-loop interface this module follows.
VERL_COMMIT = "1dda039b9c6311889a9c9a26040677e1254814f9"
#: The agent name rows carry (``agent_name`` column; ``swerex prepare-data --agent_name``).
AGENT_NAME = "swe_agent"
#: Keys of ``rollout`` (the YAML entry) passed to ``POST /v1/rollouts``.
ROLLOUT_KEYS = ("agent", "reward", "deployment", "max_steps", "max_turns", "swe_agent_timeout")
#: Seconds a cancelled ``run`` may spend cancelling its rollout (the sandbox is stopped by the service).
CANCEL_DEADLINE_S = 60.0


def _plain(value: Any) -> Any:
    """Dataset values as JSON: numpy arrays and scalars (what verl's non-tensor batch holds) become lists/numbers."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def task_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The task of a dataset row: a SWE-bench instance as it is, or a ``swerex prepare-data`` training row
    (verl hands its ``prompt`` column over as ``raw_prompt``)."""
    if "instance_id" in row and "problem_statement" in row:
        return _plain(dict(row))
    prompt = row.get("raw_prompt", row.get("prompt"))
    task: dict[str, Any] = {
        "prompt": _plain(prompt) if prompt is not None else [],
        "reward_model": _plain(row.get("reward_model") or {}),
        "extra_info": _plain(row.get("extra_info") or {}),
    }
    for key in ("data_source", "agent_name"):
        if row.get(key) is not None:
            task[key] = _plain(row[key])
    return task


def _verl_fields(result: Mapping[str, Any], local: dict[str, Any], response_length: int) -> dict[str, Any]:
    """The rollout's verl fields (the service's, else the ones tracked here), cut to ``response_length``."""
    verl = result.get("verl") or local
    logprobs = verl.get("response_logprobs")
    return {
        "prompt_ids": list(verl.get("prompt_ids") or []),
        "response_ids": list(verl.get("response_ids") or [])[:response_length],
        "response_mask": list(verl.get("response_mask") or [])[:response_length],
        "response_logprobs": list(logprobs)[:response_length] if logprobs else None,
        "num_turns": int(verl.get("num_turns") or 0),
    }


class _LocalTrajectory:
    """The verl fields from the ids this loop posted, kept in case the service could not build them (a prompt
    that does not extend the previous prompt + completion): stops at the first such step."""

    def __init__(self) -> None:
        self.prompt: list[int] | None = None
        self.context: list[int] = []
        self.response: list[int] = []
        self.mask: list[int] = []
        self.logprobs: list[float] = []
        self.broken = False
        self.turns = 0

    def add(self, prompt: list[int], completion: list[int], logprobs: list[float] | None) -> None:
        if self.broken:
            return
        if self.prompt is None:
            self.prompt, self.context = list(prompt), list(prompt)
        if prompt[: len(self.context)] != self.context:
            self.broken = True
            return
        observation = prompt[len(self.context) :]
        self.response += observation + completion
        self.mask += [0] * len(observation) + [1] * len(completion)
        lp = logprobs if logprobs and len(logprobs) == len(completion) else [0.0] * len(completion)
        self.logprobs += [0.0] * len(observation) + list(lp)
        self.context = list(prompt) + list(completion)
        self.turns += 2

    def fields(self) -> dict[str, Any]:
        return {
            "prompt_ids": self.prompt or [],
            "response_ids": self.response,
            "response_mask": self.mask,
            "response_logprobs": self.logprobs,
            "num_turns": self.turns,
        }


class SwerexRollout:
    """One dataset row's rollout through the service, answered by ``server_manager`` (the loop's core; no verl).

    ``tokenizer``: a Hugging Face tokenizer (``apply_chat_template``, ``decode``); ``server_manager``: verl's
    ``AsyncLLMServerManager`` (or anything with its ``generate``).
    """

    def __init__(
        self,
        client: SwerexClient,
        tokenizer: Any,
        server_manager: Any,
        *,
        response_length: int,
        max_model_len: int | None = None,
        apply_chat_template_kwargs: Mapping[str, Any] | None = None,
        rollout: Mapping[str, Any] | None = None,
        poll_timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.tokenizer = tokenizer
        self.server_manager = server_manager
        self.response_length = response_length
        self.max_model_len = max_model_len
        self.template_kwargs = dict(apply_chat_template_kwargs or {})
        self.rollout_options = {k: v for k, v in (rollout or {}).items() if k in ROLLOUT_KEYS}
        self.poll_timeout = min(poll_timeout, MAX_LONG_POLL_S)

    async def run(self, sampling_params: dict[str, Any], **row: Any) -> dict[str, Any]:
        """Runs the rollout; returns ``AgentLoopOutput``'s fields (plus ``rollout`` for callers that want more)."""
        t0 = time.monotonic()
        metadata = {"agent_loop": AGENT_NAME}
        if row.get("index") is not None:
            metadata["index"] = str(_plain(row["index"]))
        created = await self.client.create_rollout(
            task_from_row(row), policy={"type": "trainer"}, metadata=metadata, **self.rollout_options
        )
        local = _LocalTrajectory()
        generate_s = 0.0
        try:
            while True:
                call = await self.client.next_call(created.id, timeout=self.poll_timeout)
                if call is None:
                    if (await self.client.get_rollout(created.id)).done:
                        break
                    continue
                generate_s += await self._answer(call.call_id, call.request, sampling_params, local)
            final = await self.client.wait_rollout(created.id)
        except BaseException:
            # Cancelled or broken: the rollout (and so its sandbox) must not outlive this run.
            await asyncio.shield(asyncio.wait_for(self.client.cancel_rollout(created.id), CANCEL_DEADLINE_S))
            raise
        return self._output(final, local, generate_s, time.monotonic() - t0)

    async def _answer(
        self, call_id: str, request: dict[str, Any], sampling_params: dict[str, Any], local: _LocalTrajectory
    ) -> float:
        """Answers one call; returns the seconds spent generating."""
        prompt_ids = list(
            self.tokenizer.apply_chat_template(
                request["messages"],
                tools=request.get("tools"),
                add_generation_prompt=True,
                tokenize=True,
                **self.template_kwargs,
            )
        )
        if self.max_model_len is not None and len(prompt_ids) >= self.max_model_len:
            # The policy's own limit (a 4xx): the agent ends with model_error and keeps its patch's reward.
            await self._quietly(
                self.client.fail_call(
                    call_id,
                    f"the prompt has {len(prompt_ids)} tokens; the model takes at most {self.max_model_len}",
                    status=400,
                    code="context_length_exceeded",
                )
            )
            return 0.0
        t = time.monotonic()
        try:
            out = await self.server_manager.generate(
                request_id=call_id, prompt_ids=prompt_ids, sampling_params=sampling_params
            )
        except Exception as err:  # noqa: BLE001 - any engine failure reaches the agent as a 5xx, not a hang
            await self._quietly(self.client.fail_call(call_id, f"generate failed: {err}", status=503, code="generate_failed"))
            return time.monotonic() - t
        elapsed = time.monotonic() - t
        completion = list(out.token_ids)
        logprobs = list(out.log_probs) if getattr(out, "log_probs", None) else None
        local.add(prompt_ids, completion, logprobs)
        await self._quietly(
            self.client.answer_call(
                call_id,
                content=self.tokenizer.decode(completion, skip_special_tokens=True),
                finish_reason="stop",
                usage={
                    "prompt_tokens": len(prompt_ids),
                    "completion_tokens": len(completion),
                    "total_tokens": len(prompt_ids) + len(completion),
                },
                prompt_token_ids=prompt_ids,
                completion_token_ids=completion,
                logprobs=logprobs,
            )
        )
        return elapsed

    @staticmethod
    async def _quietly(posting: Any) -> None:
        """A post whose call is gone (404: its rollout ended or timed it out) is not an error of this loop."""
        try:
            await posting
        except SwerexAPIError as err:
            if err.status != 404:
                raise

    def _output(self, final: Rollout, local: _LocalTrajectory, generate_s: float, total_s: float) -> dict[str, Any]:
        result = final.result or {}
        timings = result.get("timings") or {}
        return {
            **_verl_fields(result, local.fields(), self.response_length),
            "reward_score": result.get("score"),
            "metrics": {
                "generate_sequences": generate_s,
                # Time the agent spent in the sandbox (its commands), the agent-loop analogue of tool calls.
                "tool_calls": max(0.0, float(timings.get("agent_s") or 0.0) - generate_s),
                "compute_score": float(timings.get("reward_s") or 0.0),
            },
            "extra_fields": {
                "swerex_rollout_id": final.id,
                "swerex_state": final.state,
                "failure_class": result.get("failure_class"),
                "resolved": result.get("resolved"),
                "total_s": total_s,
            },
            "rollout": final,
        }


def _build_agent_loop() -> type:
    """Subclasses verl's ``AgentLoopBase`` (imported now) and registers it as ``swe_agent``."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register

    class SwerexAgentLoop(AgentLoopBase):  # type: ignore[misc, valid-type]
        """verl agent loop running SWE rollouts on ``swerex serve`` (module docstring)."""

        def __init__(
            self,
            *args: Any,
            swerex_url: str | None = None,
            swerex_api_key: str | None = None,
            rollout: Mapping[str, Any] | None = None,
            poll_timeout: float = 30.0,
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            url = swerex_url or os.environ.get("SWEREX_URL")
            if not url:
                raise ValueError("SwerexAgentLoop needs swerex_url (agent loop config) or $SWEREX_URL")
            self.swerex = SwerexClient(url, swerex_api_key or os.environ.get("SWEREX_API_KEY"))
            rollout_config = self.rollout_config
            self.response_length = int(rollout_config.response_length)
            self._core = SwerexRollout(
                self.swerex,
                self.tokenizer,
                self.server_manager,
                response_length=self.response_length,
                max_model_len=int(rollout_config.prompt_length) + self.response_length,
                apply_chat_template_kwargs=getattr(self, "apply_chat_template_kwargs", None),
                rollout=dict(rollout or {}),
                poll_timeout=poll_timeout,
            )

        async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> Any:
            fields = await self._core.run(sampling_params, **kwargs)
            fields.pop("rollout")
            return AgentLoopOutput(**fields)

    # Registered under its import path (`swerex_client.verl.SwerexAgentLoop`), which hydra resolves to this class.
    SwerexAgentLoop.__module__ = __name__
    SwerexAgentLoop.__qualname__ = "SwerexAgentLoop"
    return register(AGENT_NAME)(SwerexAgentLoop)


_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # verl is imported on first use of the class (hydra's `_target_` lookup, or an explicit import).
    if name == "SwerexAgentLoop":
        if name not in _built:
            _built[name] = _build_agent_loop()
        return _built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
