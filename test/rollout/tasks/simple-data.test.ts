/** The seed's simple tasks: every expected patch is exactly what the extractor produces for the intended change. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../../src/cli/commands/prepare-data.js";
import { simpleTrainingRows } from "../../../src/rollout/data/prepare.js";
import { SIMPLE_CASES_TRAIN, SIMPLE_CASES_VAL } from "../../../src/rollout/data/simple-cases.js";
import { toVerlTrajectory } from "../../../src/rollout/data/verl.js";
import { applyPatch } from "../../../src/rollout/patch/apply.js";
import { extractPatch } from "../../../src/rollout/patch/extract.js";
import { patchSimilarity } from "../../../src/rollout/reward/similarity.js";
import { parseTasks } from "../../../src/rollout/tasks/load.js";
import { setupTaskRepo, type TaskCheckout, teardownTaskRepo } from "../../../src/rollout/tasks/setup.js";
import type { ModelCallRecord } from "../../../src/rollout/types.js";
import { HostRuntime } from "../e2e/host-runtime.js";

const runtime = new HostRuntime();
const made: TaskCheckout[] = [];
let out = "";
afterAll(async () => {
  for (const c of made) await teardownTaskRepo(runtime, c);
  if (out) await rm(out, { recursive: true, force: true });
});

describe("prepare-data --mode simple", () => {
  it("writes train/test JSONL rows in the seed's format that load back as tasks", async () => {
    out = await mkdtemp(join(tmpdir(), "swerex-prepare-"));
    const stdout = new PassThrough();
    const code = await run(
      ["--mode", "simple", "--train_size", "20", "--test_size", "3", "--output_dir", out],
      { stdout, env: {} },
    );
    expect(code).toBe(0);
    const train = (await readFile(join(out, "train.jsonl"), "utf8")).trim().split("\n");
    const test = (await readFile(join(out, "test.jsonl"), "utf8")).trim().split("\n");
    expect(train).toHaveLength(20);
    expect(test).toHaveLength(3);
    const row = JSON.parse(train[16] as string);
    expect(Object.keys(row)).toEqual([
      "prompt",
      "data_source",
      "ability",
      "reward_model",
      "extra_info",
      "agent_name",
    ]);
    expect(row).toMatchObject({
      agent_name: "swe_agent",
      reward_model: { style: "swe_agent" },
      extra_info: { index: 16, split: "train" },
    });
    expect(row.extra_info.sandbox_overrides).toEqual({ max_steps: 10, max_turns: 8 });
    const tasks = parseTasks(train.join("\n"), out);
    expect(tasks[0]).toMatchObject({
      instance_id: "swe_agent_simple-train-0",
      agent_overrides: { max_steps: 10, max_turns: 8 },
    });
    const trainProblems = new Set(SIMPLE_CASES_TRAIN.map((c) => c.problem_statement));
    expect(SIMPLE_CASES_VAL.some((c) => trainProblems.has(c.problem_statement))).toBe(false);
  });

  it("every expected patch applies to its repo_content and is what extraction gives back (similarity 1.0)", async () => {
    const rows = [
      ...simpleTrainingRows(SIMPLE_CASES_TRAIN.length, "train"),
      ...simpleTrainingRows(SIMPLE_CASES_VAL.length, "test"),
    ];
    for (const task of parseTasks(rows.map((r) => JSON.stringify(r)).join("\n"), "/")) {
      const c = await setupTaskRepo(runtime, task);
      made.push(c);
      const applied = await applyPatch(runtime, c.workdir, c.baseCommit, task.patch);
      expect(applied.applied, `${task.instance_id}: ${applied.log}`).toBe(true);
      const { patch } = await extractPatch(runtime, { workdir: c.workdir, baseCommit: c.baseCommit });
      expect(patchSimilarity(patch, task.patch), task.problem_statement).toMatchObject({
        value: 1,
        exact: true,
      });
    }
  });
});

describe("verl trajectory shape", () => {
  const rec = (
    step: number,
    prompt: number[],
    completion: number[],
    logprobs?: number[],
  ): ModelCallRecord => ({
    session_id: "s",
    step,
    request: { messages: [{ role: "user", content: "x" }] },
    response: {
      content: "",
      finish_reason: "stop",
      prompt_token_ids: prompt,
      completion_token_ids: completion,
      ...(logprobs ? { logprobs } : {}),
    },
    started_at: "",
    duration_ms: 1,
  });

  it("concatenates completions (mask 1) and the observation tokens between them (mask 0)", () => {
    const r = toVerlTrajectory([
      rec(1, [1, 2, 10, 11, 7, 8], [12], [-0.3]),
      rec(0, [1, 2], [10, 11], [-0.1, -0.2]),
    ]);
    expect(r).toEqual({
      ok: true,
      trajectory: {
        prompt_ids: [1, 2],
        response_ids: [10, 11, 7, 8, 12],
        response_mask: [1, 1, 0, 0, 1],
        response_logprobs: [-0.1, -0.2, 0, 0, -0.3],
        num_turns: 2,
      },
    });
  });

  it("reports retokenization drift instead of hiding it, and missing ids", () => {
    expect(toVerlTrajectory([rec(0, [1, 2], [10]), rec(1, [1, 3, 10, 5], [6])])).toEqual({
      ok: false,
      reason: "step 1: prompt does not extend the previous prompt + completion",
    });
    const noIds = rec(0, [1], [2]);
    noIds.response = { content: "", finish_reason: "stop" };
    expect(toVerlTrajectory([noIds])).toEqual({ ok: false, reason: "the policy returned no token ids" });
  });
});
