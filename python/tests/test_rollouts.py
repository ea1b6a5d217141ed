"""Rollouts on a real ``swerex serve`` (local deployment, the example tasks), driven from Python:

- a full rollout whose model calls Python answers over ``/v1/calls`` with the gold trajectory's replies and
  token ids: ``resolved``, verl fields exactly the ids given;
- ``SwerexAgentLoop`` (swerex_client.verl) end to end against the same service, with a STAND-IN for verl (its
  ``AgentLoopBase``/``AgentLoopOutput``/``register`` module, a character-level tokenizer, and a
  ``server_manager`` that "generates" the gold replies): verl cannot be installed here;
- cancellation stops the rollout's sandbox; service errors surface as :class:`SwerexAPIError`.
"""

from __future__ import annotations

import json
import re
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SERVE_REPO, Server, start_node, stop

from swerex_client import SwerexAPIError, SwerexClient
from swerex_client.verl import VERL_COMMIT, task_from_row

TASK = "examples__stats-median"
ROLLOUT_DEADLINE_S = 240.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``swerex serve`` whose sandboxes are ``local`` (swerex-remote processes), two rollouts at a time."""
    token = f"key-{time.time_ns()}"
    data_dir = tmp_path_factory.mktemp("swerex-serve-rollouts")
    server = start_node(
        [
            "src/cli/swerex.ts",
            "serve",
            "--port",
            "0",
            "--data_dir",
            str(data_dir),
            "--log_level",
            "warn",
            "--max_rollouts",
            "2",
            "--instances.deployment.type",
            "local",
        ],
        re.compile(r"swerex serve listening on (http://\S+)"),
        token,
        env={"SWEREX_API_KEYS": token},
        cwd=SERVE_REPO,
    )
    try:
        yield server
    finally:
        stop(server.process)


def example_task(instance_id: str = TASK) -> dict[str, Any]:
    """The example task with its repository paths made absolute (the service refuses relative ones)."""
    base = REPO / "examples"
    for line in (base / "tasks.jsonl").read_text().splitlines():
        task = json.loads(line)
        if task["instance_id"] == instance_id:
            if task.get("repo_dir"):
                task["repo_dir"] = str((base / task["repo_dir"]).resolve())
            if task.get("repo_files"):
                task["repo_files"] = {k: str((base / v).resolve()) for k, v in task["repo_files"].items()}
            return task
    raise KeyError(instance_id)


def gold_replies(instance_id: str = TASK) -> list[str]:
    rows = [json.loads(line) for line in (REPO / "examples/trajectories.jsonl").read_text().splitlines() if line]
    return [r["response"]["content"] for r in sorted((r for r in rows if r["session_id"] == instance_id), key=lambda r: r["step"])]


async def test_python_answers_a_service_rollout_with_token_ids(service: Server):
    replies = gold_replies()
    async with SwerexClient(service.url, service.token) as client:
        rollout = await client.create_rollout(example_task(), metadata={"test": "gold"})
        assert rollout.state == "queued"
        prompt = [7, 8, 9]
        response: list[int] = []
        mask: list[int] = []
        logprobs: list[float] = []
        for step, reply in enumerate(replies):
            call = await client.next_call(rollout.id, timeout=60)
            assert call is not None and (call.rollout_id, call.step) == (rollout.id, step)
            observation = [] if step == 0 else [300 + step]
            completion = [1000 + 10 * step, 1001 + 10 * step]
            prompt = prompt + observation
            await client.answer_call(
                call.call_id,
                content=reply,
                prompt_token_ids=prompt,
                completion_token_ids=completion,
                logprobs=[-0.5, -0.25],
            )
            response += observation + completion
            mask += [0] * len(observation) + [1, 1]
            logprobs += [0.0] * len(observation) + [-0.5, -0.25]
            prompt = prompt + completion
        done = await client.wait_rollout(rollout.id, timeout=ROLLOUT_DEADLINE_S)
        assert done.state == "completed", done.result
        result = done.result or {}
        assert result["resolved"] is True and result["score"] == 1
        assert result["verl_error"] is None
        assert result["verl"]["prompt_ids"] == [7, 8, 9]
        assert result["verl"]["response_ids"] == response
        assert result["verl"]["response_mask"] == mask
        assert result["verl"]["response_logprobs"] == logprobs
        assert (await client.get_sandbox(done.sandbox_id)).state == "stopped"
        listed = await client.list_rollouts(metadata={"test": "gold"})
        assert [r.id for r in listed.items] == [rollout.id]


async def test_cancel_stops_the_sandbox(service: Server):
    async with SwerexClient(service.url, service.token) as client:
        rollout = await client.create_rollout(example_task())
        assert await client.next_call(rollout.id, timeout=60) is not None
        running = await client.get_rollout(rollout.id)
        assert running.state == "running" and running.sandbox_id
        assert (await client.get_sandbox(running.sandbox_id)).state == "running"
        cancelled = await client.cancel_rollout(rollout.id)
        assert cancelled.state == "cancelled"
        assert (cancelled.result or {})["failure_class"] == "cancelled"
        assert (await client.get_sandbox(running.sandbox_id)).state == "stopped"
        # Its rollout ended: the per-rollout poll answers at once with no call.
        assert await client.next_call(rollout.id, timeout=30) is None


async def test_service_errors_are_exceptions(service: Server):
    async with SwerexClient(service.url, service.token) as client:
        task = example_task()
        task["repo_dir"] = "examples/stats-median"
        with pytest.raises(SwerexAPIError) as bad:
            await client.create_rollout(task)
        assert bad.value.status == 422 and "task.repo_dir" in str(bad.value)
        with pytest.raises(SwerexAPIError) as gone:
            await client.answer_call("req_does-not-exist", content="hi")
        assert gone.value.status == 404
        with pytest.raises(SwerexAPIError) as unknown:
            await client.get_rollout("rol-aaaaaaaaaaaaaaaaaaaa")
        assert unknown.value.status == 404
    async with SwerexClient(service.url, "not-a-key") as client:
        with pytest.raises(SwerexAPIError) as denied:
            await client.list_rollouts()
        assert denied.value.status == 401


def test_training_rows_become_tasks():
    row = {
        "raw_prompt": [{"role": "user", "content": "fix it"}],
        "reward_model": {"style": "rule", "ground_truth": "diff"},
        "extra_info": {"instance_id": "x-1", "repo_content": [{"path": "a.py", "content": "print(1)\n"}]},
        "data_source": "swe",
        "agent_name": "swe_agent",
        "index": 3,
    }
    assert task_from_row(row) == {
        "prompt": [{"role": "user", "content": "fix it"}],
        "reward_model": {"style": "rule", "ground_truth": "diff"},
        "extra_info": {"instance_id": "x-1", "repo_content": [{"path": "a.py", "content": "print(1)\n"}]},
        "data_source": "swe",
        "agent_name": "swe_agent",
    }
    swebench = example_task()
    assert task_from_row(swebench) == swebench


# --- STAND-IN for verl (not installable here) -------------------------------------------------------------
# The same names, fields and calls as verl's agent-loop module at VERL_COMMIT; no behaviour of verl's own.

END = "</>"


class StandInTokenizer:
    """Character-level: a message is ``<role>content</>``; the generation prompt is ``<assistant>``."""

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True, **kwargs):
        text = "".join(f"<{m['role']}>{m['content']}{END}" for m in messages)
        if add_generation_prompt:
            text += "<assistant>"
        return [ord(c) for c in text] if tokenize else text

    def decode(self, ids, skip_special_tokens=False):
        text = "".join(chr(i) for i in ids)
        return text.removesuffix(END) if skip_special_tokens else text


@dataclass
class StandInTokenOutput:
    token_ids: list[int]
    log_probs: list[float] | None = None
    stop_reason: str | None = "completed"


class StandInServerManager:
    """``generate`` answers with the gold replies in order (a model that wrote the gold trajectory)."""

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    async def generate(self, *, request_id, prompt_ids, sampling_params, **kwargs):
        self.calls.append({"request_id": request_id, "prompt_ids": prompt_ids, "sampling_params": sampling_params})
        ids = [ord(c) for c in self.replies.pop(0) + END]
        return StandInTokenOutput(token_ids=ids, log_probs=[-0.125] * len(ids))


def install_stand_in_verl(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    registry: dict[str, Any] = {}

    class AgentLoopBase:
        def __init__(self, trainer_config, server_manager, tokenizer, processor, dataset_cls, data_config, **kwargs):
            self.config = trainer_config.config
            self.rollout_config = self.config.actor_rollout_ref.rollout
            self.server_manager = server_manager
            self.tokenizer = tokenizer
            self.processor = processor
            self.data_config = data_config.config
            self.apply_chat_template_kwargs = self.data_config.get("apply_chat_template_kwargs", {})

    class AgentLoopOutput:
        def __init__(self, **fields):
            self.__dict__.update(fields)

    def register(name):
        def decorator(cls):
            registry[name] = {"_target_": f"{cls.__module__}.{cls.__qualname__}"}
            return cls

        return decorator

    module = types.ModuleType("verl.experimental.agent_loop.agent_loop")
    module.AgentLoopBase, module.AgentLoopOutput, module.register = AgentLoopBase, AgentLoopOutput, register
    for name in ("verl", "verl.experimental", "verl.experimental.agent_loop"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "verl.experimental.agent_loop.agent_loop", module)
    import swerex_client.verl as verl_module

    monkeypatch.setattr(verl_module, "_built", {})
    return registry


def ns(**kwargs):
    return types.SimpleNamespace(**kwargs)


async def test_swerex_agent_loop_with_a_verl_stand_in(service: Server, monkeypatch: pytest.MonkeyPatch):
    assert VERL_COMMIT == "1dda039b9c6311889a9c9a26040677e1254814f9"
    registry = install_stand_in_verl(monkeypatch)
    from swerex_client.verl import SwerexAgentLoop

    assert registry == {"swe_agent": {"_target_": "swerex_client.verl.SwerexAgentLoop"}}
    response_length = 600
    manager = StandInServerManager(gold_replies())
    loop = SwerexAgentLoop(
        trainer_config=ns(config=ns(actor_rollout_ref=ns(rollout=ns(prompt_length=30_000, response_length=response_length)))),
        server_manager=manager,
        tokenizer=StandInTokenizer(),
        processor=None,
        dataset_cls=None,
        data_config=ns(config={}),
        swerex_url=service.url,
        swerex_api_key=service.token,
    )
    out = await loop.run({"temperature": 1.0}, **example_task(), index=0)
    await loop.swerex.aclose()
    assert out.reward_score == 1
    assert out.extra_fields["resolved"] is True
    async with SwerexClient(service.url, service.token) as client:
        result = (await client.get_rollout(out.extra_fields["swerex_rollout_id"])).result or {}
    verl = result["verl"]
    assert result["verl_error"] is None
    tokenizer = StandInTokenizer()
    first = result["trajectory"][0]["request"]["messages"]
    assert out.prompt_ids == verl["prompt_ids"] == tokenizer.apply_chat_template(first, add_generation_prompt=True)
    assert manager.calls[0]["prompt_ids"] == out.prompt_ids
    assert manager.calls[0]["sampling_params"] == {"temperature": 1.0}
    # The whole response is longer than response_length: cut, the service's fields otherwise unchanged.
    assert len(verl["response_ids"]) > response_length
    assert out.response_ids == verl["response_ids"][:response_length]
    assert out.response_mask == verl["response_mask"][:response_length]
    assert out.response_logprobs == verl["response_logprobs"][:response_length]
    assert len(out.response_ids) == len(out.response_mask) == len(out.response_logprobs) == response_length
    # Every generated token is masked 1 with its logprob; observation tokens 0.
    generated = sum(len(c) + len(END) for c in gold_replies())
    assert sum(verl["response_mask"]) == generated
    assert [lp for lp, m in zip(verl["response_logprobs"], verl["response_mask"]) if m == 1] == [-0.125] * generated
    assert out.num_turns == verl["num_turns"]
    assert out.metrics["generate_sequences"] >= 0
