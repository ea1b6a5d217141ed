import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { Progress } from "../../../src/rollout/batch/progress.js";
import { renderSummary, summarize } from "../../../src/rollout/batch/summary.js";
import type { RolloutResult } from "../../../src/rollout/rollout.js";

function result(id: string, over: Partial<RolloutResult>): RolloutResult {
  return {
    instance_id: id,
    session_id: id,
    status: "completed",
    failure_class: null,
    exit_status: "submitted",
    patch: "",
    patch_strategy: null,
    reward: null,
    score: 1,
    resolved: true,
    turns: 3,
    model_calls: 3,
    timings: { provision_s: 0, setup_s: 0, agent_s: 1, patch_s: 0, reward_s: 1, total_s: 2.25 },
    error: null,
    started_at: "",
    finished_at: "",
    trajectory: [],
    verl: null,
    verl_error: null,
    ...over,
  };
}

function capture() {
  const s = new PassThrough();
  let text = "";
  s.on("data", (d: Buffer) => {
    text += d.toString();
  });
  return { s, text: () => text };
}

describe("progress", () => {
  it("redraws a bar with counts and rates on a terminal", () => {
    const c = capture();
    const p = new Progress(3, 1, "bar", c.s);
    p.onStart();
    p.onFinish(result("a", {}));
    p.onStart();
    p.onFinish(
      result("b", { status: "failed", failure_class: "agent_timeout", resolved: null, score: null }),
    );
    p.close();
    const t = c.text();
    expect(t).toContain("run-batch: 3 instances, 1 already done (skipped)\n");
    expect(t).toContain(
      "\r\u001b[2K[############------------] 1/2 done | 0 running | 1 resolved | 0 failed | ",
    );
    expect(t).toMatch(
      /\[########################\] 2\/2 done \| 0 running \| 1 resolved \| 1 failed \| [\d.]+\/min \| 00:00 elapsed \| eta 00:00\n$/,
    );
  });

  it("writes one plain line per finished instance otherwise", () => {
    const c = capture();
    const p = new Progress(1, 0, "lines", c.s);
    p.onStart();
    p.onFinish(result("a", { failure_class: "max_turns", score: 0, resolved: false }));
    p.close();
    expect(c.text()).toMatch(
      /^run-batch: 1 instances\n\[1\/1\] a: completed max_turns score=0 \(2\.3s\) \| 1\/1 done/,
    );
  });
});

describe("summary", () => {
  it("counts statuses, resolves and failure classes, and renders a table", () => {
    const rs = [
      result("a", {}),
      result("b", { resolved: false, score: 0, failure_class: "max_turns", exit_status: "max_turns" }),
      result("c", {
        status: "failed",
        failure_class: "provision",
        exit_status: null,
        resolved: null,
        score: null,
      }),
    ];
    const s = summarize(rs, 12.34);
    expect(s).toEqual({
      instances: 3,
      completed: 2,
      failed: 1,
      cancelled: 0,
      resolved: 1,
      resolve_rate: 1 / 3,
      mean_score: 0.5,
      failure_classes: { max_turns: 1, provision: 1 },
      wall_s: 12.3,
    });
    const table = renderSummary(rs, s);
    expect(table.split("\n")[0]).toBe(
      "instance  status     exit       failure    resolved  reward  turns  time",
    );
    expect(table).toContain("c         failed     -          provision  -         -       3      2.3s");
    expect(table).toContain("failures: max_turns=1, provision=1");
  });
});
