/**
 * Failures that say nothing about the policy get `score: null` (a trainer masks the sample) and their failure
 * class, never a 0 to learn from: an agent command that does not exist, an upstream nobody listens on, a
 * test_patch that does not apply. A 4xx the policy caused (context too long) keeps its reward.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/rollout/policy/errors.js";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import type { PolicyBackend } from "../../../src/rollout/types.js";
import { freePort } from "../../helpers/net.js";
import { bash, exampleTask, RolloutHarness, ScriptedPolicy } from "../e2e/harness.js";

const h = new RolloutHarness();
beforeAll(async () => {
  await h.start();
});
afterAll(async () => {
  await h.close();
});

describe("infrastructure failures are masked (score null), not scored 0", () => {
  it("an agent command that does not exist: agent_error, score null, and the error says so", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const r = await h.run(task, new ScriptedPolicy([bash("true")]), {
      type: "command",
      command: "swerex-no-such-agent-xyz --task x",
    });
    expect(r).toMatchObject({
      status: "failed",
      exit_status: "agent_error",
      failure_class: "agent_error",
      score: null,
    });
    expect(r.error).toContain("not found or is not executable (exit 127)");
    expect(await h.allStopped()).toBe(true);
  });

  it("an unreachable upstream: model_unavailable, score null", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const policy = new OpenAIPolicy({ base_url: `http://127.0.0.1:${await freePort()}/v1`, timeout: 30 });
    try {
      const r = await h.run(task, policy);
      expect(r).toMatchObject({ status: "failed", failure_class: "model_unavailable", score: null });
      expect(r.error).toContain("upstream_unreachable (502)");
      expect(r.trajectory.at(-1)?.error).toMatchObject({ status: 502, code: "upstream_unreachable" });
    } finally {
      await policy.close();
    }
  });

  it("a test_patch that does not apply: eval, score null, the reward kept for inspection", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const broken = {
      ...task,
      test_patch:
        "diff --git a/tests/test_nope.py b/tests/test_nope.py\n--- a/tests/test_nope.py\n+++ b/tests/test_nope.py\n@@ -1 +1 @@\n-a\n+b\n",
    };
    const fix = `sed -i 's/_UNITS = {"h": 3600, "m": 60}/_UNITS = {"h": 3600, "m": 60, "s": 1}/' timekit/durations.py`;
    const r = await h.run(
      broken,
      new ScriptedPolicy([bash(fix), bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]),
    );
    expect(r).toMatchObject({ status: "failed", failure_class: "eval", score: null });
    expect(r.reward).toMatchObject({ type: "swebench", status: "test_patch_apply_failed" });
  });

  it("a 4xx the policy caused (context too long) is the policy's: model_error keeps its reward", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const policy: PolicyBackend = {
      async complete() {
        throw new PolicyError("prompt too long", {
          status: 400,
          type: "invalid_request_error",
          code: "context_length_exceeded",
        });
      },
    };
    const r = await h.run(task, policy);
    expect(r).toMatchObject({ status: "completed", failure_class: "model_error", score: 0 });
  });
});
