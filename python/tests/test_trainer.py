"""A full rollout driven from Python: ``swerex run-batch --policy.type=trainer`` on an example task, every
model call answered by this test through ``TrainerClient`` with the gold trajectory's replies plus token ids
and logprobs; the task is resolved and results.jsonl's verl fields are exactly the ids given."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import REPO, start_node, stop

from swerex_client import SwerexAPIError, TrainerClient

TASK = "examples__stats-median"
EXIT_DEADLINE_S = 180.0


def gold_replies() -> list[dict]:
    rows = [json.loads(line) for line in (REPO / "examples/trajectories.jsonl").read_text().splitlines() if line]
    steps = sorted((r for r in rows if r["session_id"] == TASK), key=lambda r: r["step"])
    return [r["response"] for r in steps]


async def test_python_trainer_drives_a_rollout_with_token_ids(tmp_path: Path):
    out = tmp_path / "batch"
    batch = start_node(
        [
            "src/cli/swerex.ts",
            "run-batch",
            "--instances.path=examples/tasks.jsonl",
            f"--instances.filter=^{TASK}$",
            "--policy.type=trainer",
            "--progress=off",
            f"--output_dir={out}",
        ],
        re.compile(r"TRAINER_URL=(\S+)"),
        token="",
    )
    replies = gold_replies()
    prompt = [1, 2, 3, 4, 5]
    expected_response: list[int] = []
    expected_mask: list[int] = []
    expected_logprobs: list[float] = []
    try:
        async with TrainerClient(batch.url) as trainer:
            for step, reply in enumerate(replies):
                call = await trainer.next_call(wait=60)
                assert call is not None, "".join(batch.output)
                assert (call.session_id, call.step) == (TASK, step)
                assert call.request["messages"][-1]["role"] in ("user", "tool")
                # A stand-in tokenizer: each new prompt extends the previous prompt + completion.
                observation = [] if step == 0 else [500 + step, 600 + step]
                completion = [1000 + 10 * step + i for i in range(3)]
                logprobs = [-0.1 * (i + 1) for i in range(3)]
                prompt = prompt + observation
                await trainer.answer(
                    call.request_id,
                    content=reply["content"],
                    finish_reason=reply["finish_reason"],
                    prompt_token_ids=prompt,
                    completion_token_ids=completion,
                    logprobs=logprobs,
                )
                expected_response += observation + completion
                expected_mask += [0] * len(observation) + [1] * len(completion)
                expected_logprobs += [0.0] * len(observation) + logprobs
                prompt = prompt + completion
            try:
                await trainer.answer(call.request_id, content="again", finish_reason="stop")
                raise AssertionError("an answered call must be gone")
            except SwerexAPIError as err:
                assert err.status == 404
        assert batch.process.wait(EXIT_DEADLINE_S) == 0, "".join(batch.output)
    except subprocess.TimeoutExpired:
        raise AssertionError("run-batch did not exit: " + "".join(batch.output)) from None
    finally:
        stop(batch.process)

    [result] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert result["status"] == "completed"
    assert result["resolved"] is True and result["score"] == 1
    assert result["verl_error"] is None
    verl = result["verl"]
    assert verl["prompt_ids"] == [1, 2, 3, 4, 5]
    assert verl["response_ids"] == expected_response
    assert verl["response_mask"] == expected_mask
    assert verl["response_logprobs"] == expected_logprobs
    assert len(verl["response_ids"]) == len(verl["response_mask"]) == len(verl["response_logprobs"])
