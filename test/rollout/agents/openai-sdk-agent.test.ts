/**
 * The done-when of the rollout layer: an unmodified agent built on the official `openai` npm client (plain and
 * `stream: true`) completes an example task through a real rollout: real local deployment, real ModelProxy
 * session, scripted policy; the patch is the gold patch, the reward 1, and the proxy recorded every call.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bash, exampleTask, RolloutHarness, ScriptedPolicy } from "../e2e/harness.js";

const h = new RolloutHarness();
beforeAll(async () => {
  await h.start();
});
afterAll(async () => {
  await h.close();
});

const AGENT = `${JSON.stringify(process.execPath)} ${JSON.stringify(resolve("test/rollout/agents/fixtures/openai-sdk-agent.mjs"))}`;
const LOOK = "grep -n '_UNITS' timekit/durations.py";
const FIX = `sed -i 's/_UNITS = {"h": 3600, "m": 60}/_UNITS = {"h": 3600, "m": 60, "s": 1}/' timekit/durations.py`;
const SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";

describe.each([
  { mode: "plain", stream: false },
  { mode: "streaming", stream: true },
])("external agent on the official openai client ($mode)", ({ stream }) => {
  it("completes examples__duration-seconds end to end with the gold patch and reward 1", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const replies = [bash(LOOK, "Find the units."), bash(FIX, "Add seconds."), bash(SUBMIT)];
    const policy = new ScriptedPolicy(replies);
    const r = await h.run(task, policy, {
      type: "command",
      command: AGENT,
      env: { AGENT_STREAM: stream ? "1" : "0" },
    });
    expect(r.error, r.agent_output_tail).toBeNull();
    expect(r).toMatchObject({
      status: "completed",
      exit_status: "submitted",
      failure_class: null,
      patch_strategy: "git_diff_cached",
      model_calls: 3,
      score: 1,
      resolved: true,
    });
    expect(r.patch).toBe(task.patch);
    expect(r.reward).toMatchObject({ type: "swebench", status: "resolved", value: 1 });

    // The agent ran exactly the commands the policy sent, assembled from SSE deltas when streaming.
    expect(r.agent_output_tail).toContain(`turn 2 ran: ${FIX}`);
    expect(r.agent_output_tail).toContain("submitted after 3 calls");
    expect(r.agent_output_tail?.includes("usage received")).toBe(stream);

    // The proxy recorded the three calls of this session, as the SDK sent them.
    expect(r.trajectory.map((c) => [c.session_id, c.step, c.error ?? null])).toEqual([
      ["examples__duration-seconds", 0, null],
      ["examples__duration-seconds", 1, null],
      ["examples__duration-seconds", 2, null],
    ]);
    for (const call of r.trajectory) {
      expect(call.request.model).toBe("swerex-policy");
      expect(call.request.stream ?? false).toBe(stream);
      expect(call.request.temperature).toBe(0);
    }
    expect(r.trajectory.map((c) => c.response?.content)).toEqual(replies.map((x) => x.content));
    // The observation of turn 1 (the grep output) reached the model on the next call.
    const second = r.trajectory[1]?.request.messages.at(-1)?.content;
    expect(second).toContain('_UNITS = {"h": 3600, "m": 60}');
    expect(await h.allStopped()).toBe(true);
  });
});
