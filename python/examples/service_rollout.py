"""A rollout on a local ``swerex serve``, its model calls answered from Python (docs/trainers.md).

    swerex prepare-data --output_dir data/swe_agent            # verl rows; repositories inline
    SWEREX_API_KEYS=dev-key swerex serve --instances.deployment.type local &
    python python/examples/service_rollout.py data/swe_agent/train.jsonl

Where a verl trainer would generate with its model (``SwerexAgentLoop`` does exactly this loop), this script
answers with two fixed replies for the first training row, then prints the result record.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from swerex_client import SwerexClient

REPLIES = [
    "THOUGHT: move the file.\n\n```bash\nmkdir -p docs && git mv notes.txt docs/notes.txt\n```",
    "THOUGHT: done.\n\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```",
]


async def main(rows_path: str) -> None:
    row = json.loads(open(rows_path).readline())
    url = os.environ.get("SWEREX_URL", "http://127.0.0.1:8080")
    async with SwerexClient(url, api_key=os.environ.get("SWEREX_API_KEY", "dev-key")) as client:
        rollout = await client.create_rollout(
            row,                                   # a prepare-data row is a task as it is
            policy={"type": "trainer"},            # model calls wait for this script at /v1/calls
            reward={"type": "similarity"},         # the simple rows' reward: similarity to the expected patch
            max_steps=10,
            metadata={"example": "service_rollout"},
        )
        print("created", rollout.id, rollout.state)
        while True:
            call = await client.next_call(rollout.id, timeout=30)
            if call is None:                       # no call within 30 s, or the rollout ended
                if (await client.get_rollout(rollout.id)).done:
                    break
                continue
            reply = REPLIES[min(call.step, len(REPLIES) - 1)]
            # A real trainer also sends prompt_token_ids, completion_token_ids and logprobs here.
            await client.answer_call(call.call_id, content=reply, finish_reason="stop")
            print("answered step", call.step)
        done = await client.wait_rollout(rollout.id, timeout=300)
        result = done.result or {}
        print("state", done.state, "score", result.get("score"), "failure_class", result.get("failure_class"))
        print("patch:\n" + result.get("patch", ""))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "data/swe_agent/train.jsonl"))
