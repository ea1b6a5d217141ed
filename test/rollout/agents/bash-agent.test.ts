/**
 * The built-in bash agent on the real local deployment through a real ModelProxy session: it completes a
 * task, and each limit (max_turns, max_steps at the proxy, swe_agent_timeout) ends the rollout cleanly with
 * the sandbox stopped and the scratch checkout removed.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAction, truncateOutput } from "../../../src/rollout/agents/bash-agent.js";
import type { PolicyBackend } from "../../../src/rollout/types.js";
import { bash, exampleTask, gone, RolloutHarness, ScriptedPolicy, scratchDirOf } from "../e2e/harness.js";

const h = new RolloutHarness();
beforeAll(() => h.start());
afterAll(() => h.close());

const FIX_MEDIAN = `python3 - <<'EOF'
p = "statkit/stats.py"
s = open(p).read()
s = s.replace("    return ordered[middle]\\n", "    if len(ordered) % 2:\\n        return ordered[middle]\\n    return (ordered[middle - 1] + ordered[middle]) / 2\\n")
open(p, "w").write(s)
EOF`;

describe("parseAction", () => {
  it("takes exactly one fenced bash block", () => {
    expect(parseAction("THOUGHT\n```bash\nls -la\n```")).toEqual({ command: "ls -la" });
    expect(parseAction("```\necho hi\n```")).toEqual({ command: "echo hi" });
    expect(parseAction("no block")).toHaveProperty("error");
    expect(parseAction("```bash\na\n```\n```bash\nb\n```")).toHaveProperty("error");
  });
  it("keeps head and tail of long output", () => {
    const out = truncateOutput("a".repeat(50) + "b".repeat(50), 20);
    expect(out).toBe(`${"a".repeat(10)}\n[... 80 characters elided ...]\n${"b".repeat(10)}`);
  });
});

describe("bash agent rollouts (local deployment)", () => {
  it("completes a task: explores, fixes, submits; the patch resolves it", async () => {
    const task = await exampleTask("examples__stats-median");
    const policy = new ScriptedPolicy([
      bash("cat statkit/stats.py"),
      bash(FIX_MEDIAN, "Average the two middle values."),
      bash("python3 run_tests.py"),
      bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
    ]);
    const r = await h.run(task, policy);
    expect(r.error).toBeNull();
    expect(r).toMatchObject({
      status: "completed",
      exit_status: "submitted",
      failure_class: null,
      turns: 4,
      model_calls: 4,
      score: 1,
      resolved: true,
    });
    expect(r.patch_strategy).toBe("git_diff_cached");
    expect(r.patch).toContain("+    return (ordered[middle - 1] + ordered[middle]) / 2");
    // The observation of each command went back as the next user message.
    const second = policy.seen[1]?.messages ?? [];
    expect(second[second.length - 1]?.content).toContain("return ordered[middle]");
    expect(second[0]?.content).toContain("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT");
    expect(second[1]?.content).toContain("median of an even-sized sample");
    expect(r.trajectory.map((c) => c.step)).toEqual([0, 1, 2, 3]);
    expect(r.verl).toBeNull();
    expect(r.verl_error).toBe("the policy returned no token ids");
    expect(await h.allStopped()).toBe(true);
    expect(gone(scratchDirOf(r))).toBe(true);
  });

  it("gives the trajectory in verl's shape when the policy returns token ids", async () => {
    const task = await exampleTask("examples__word-freq");
    let context = [1, 2];
    const policy: PolicyBackend = {
      async complete(_req, ctx) {
        const prompt = ctx.step === 0 ? context : [...context, 90 + ctx.step];
        const completion = [10 + ctx.step, 20 + ctx.step];
        context = [...prompt, ...completion];
        const r = ctx.step === 0 ? bash("ls") : bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT");
        return { ...r, prompt_token_ids: prompt, completion_token_ids: completion, logprobs: [-0.5, -0.25] };
      },
    };
    const r = await h.run(task, policy);
    expect(r.exit_status).toBe("submitted");
    expect(r.verl_error).toBeNull();
    expect(r.verl).toEqual({
      prompt_ids: [1, 2],
      response_ids: [10, 20, 91, 11, 21],
      response_mask: [1, 1, 0, 1, 1],
      response_logprobs: [-0.5, -0.25, 0, -0.5, -0.25],
      num_turns: 4,
    });
  });

  it("max_turns ends the rollout after exactly max_turns replies; reward still computed (0)", async () => {
    const task = await exampleTask("examples__slugify-dashes");
    const r = await h.run(task, new ScriptedPolicy([bash("ls")]), { max_turns: 3 });
    expect(r).toMatchObject({
      status: "completed",
      exit_status: "max_turns",
      failure_class: "max_turns",
      turns: 3,
      model_calls: 3,
      score: 0,
    });
    expect(r.reward).toMatchObject({ type: "swebench", status: "empty_patch" });
    expect(await h.allStopped()).toBe(true);
    expect(gone(scratchDirOf(r))).toBe(true);
  });

  it("max_steps is enforced by the proxy: the call past it is refused and the agent stops", async () => {
    const task = await exampleTask("examples__slugify-dashes");
    const r = await h.run(task, new ScriptedPolicy([bash("ls")]), { max_turns: 10, max_steps: 2 });
    expect(r).toMatchObject({
      status: "completed",
      exit_status: "max_steps",
      failure_class: "max_steps",
      turns: 2,
    });
    expect(r.trajectory.filter((c) => c.response).length).toBe(2);
    expect(r.error).toMatch(/max_steps|maxSteps|limit/i);
    expect(await h.allStopped()).toBe(true);
  });

  it("swe_agent_timeout kills a long command, stops the sandbox, and gives no reward", async () => {
    const task = await exampleTask("examples__word-freq");
    const started = Date.now();
    const marker = `swerex-timeout-test-${process.pid}-${Date.now()}`;
    const r = await h.run(task, new ScriptedPolicy([bash(`sleep 120 # ${marker}`)]), {
      swe_agent_timeout: 2,
      kill_timeout: 1,
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r).toMatchObject({
      status: "failed",
      exit_status: "timeout",
      failure_class: "agent_timeout",
      reward: null,
      score: null,
    });
    expect(r.error).toContain("swe_agent_timeout (2 s) reached");
    // The command was killed, not left running on this machine (a local deployment's sandbox is the host).
    const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(ps).not.toContain(marker);
    expect(await h.allStopped()).toBe(true);
    expect(gone(scratchDirOf(r))).toBe(true);
  });

  it("a reply without a bash block gets a format message; three in a row end the run", async () => {
    const task = await exampleTask("examples__word-freq");
    const policy = new ScriptedPolicy([{ content: "I think I should look around.", finish_reason: "stop" }]);
    const r = await h.run(task, policy, { max_turns: 10 });
    expect(r).toMatchObject({ exit_status: "format_error", failure_class: "format_error", turns: 3 });
    const last = policy.seen[2]?.messages ?? [];
    expect(last[last.length - 1]?.content).toContain("exactly ONE ```bash block");
  });
});
