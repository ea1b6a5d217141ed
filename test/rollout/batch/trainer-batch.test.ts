/**
 * `swerex run-batch` driven by a trainer over HTTP, as real processes: the trainer URL is printed and its port
 * chosen with `--policy.port`; token ids a trainer posts to an outer `swerex proxy` reach results.jsonl's
 * trajectory and verl fields; SIGINT leaves a `cancelled` line for every in-flight instance and summary.json.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RolloutResult } from "../../../src/rollout/rollout.js";
import { spawnSwerex } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";
import { bash } from "../e2e/harness.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "swerex-trainer-batch-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface TrainerCall {
  request_id: string;
  session_id: string;
  step: number;
  request: Record<string, unknown>;
}

/** Waits (with a deadline) until `output()` shows `re`, returning the first group. */
async function waitFor(output: () => string, re: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const m = re.exec(output());
    if (m?.[1]) return m[1];
    if (Date.now() > deadline) throw new Error(`no ${what} within 90 s; output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function nextCall(base: string): Promise<TrainerCall> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${base}/trainer/requests?wait=10`, { signal: AbortSignal.timeout(20_000) });
    if (r.status === 200) return (await r.json()) as TrainerCall;
    expect(r.status).toBe(204);
  }
  throw new Error("no model call within 90 s");
}

async function answer(base: string, id: string, body: object): Promise<void> {
  const r = await fetch(`${base}/trainer/responses/${id}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  expect(r.status).toBe(200);
}

async function results(out: string): Promise<RolloutResult[]> {
  return (await readFile(join(out, "results.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as RolloutResult);
}

it("token ids posted to an outer `swerex proxy --policy.type=trainer` reach results.jsonl's verl fields", {
  timeout: 240_000,
}, async () => {
  const outer = spawnSwerex(["proxy", "--policy.type=trainer", "--port=0"], { timeoutMs: 230_000 });
  const out = join(dir, "chain");
  let batch: ReturnType<typeof spawnSwerex> | undefined;
  try {
    const base = (await waitFor(outer.output, /OPENAI_BASE_URL=(\S+)\/v1/, "proxy URL")).trim();
    batch = spawnSwerex(
      [
        "run-batch",
        "--instances.path=examples/tasks.jsonl",
        "--instances.filter=^examples__duration-seconds$",
        "--policy.type=openai",
        `--policy.base_url=${base}/v1`,
        "--policy.return_token_ids",
        "--policy.logprobs",
        "--progress=off",
        `--output_dir=${out}`,
      ],
      { timeoutMs: 230_000 },
    );
    const first = await nextCall(base);
    await answer(base, first.request_id, {
      ...bash("echo hi"),
      prompt_token_ids: [1, 2, 3],
      completion_token_ids: [10, 11],
      logprobs: [-0.5, -0.25],
    });
    const second = await nextCall(base);
    await answer(base, second.request_id, {
      ...bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
      // The observation added tokens 20, 21 after the first completion.
      prompt_token_ids: [1, 2, 3, 10, 11, 20, 21],
      completion_token_ids: [12],
      logprobs: [-1],
    });
    const done = await batch.done;
    expect(done.code, done.stderr).toBe(0);
    const [r] = await results(out);
    expect(r?.trajectory.map((t) => t.response?.completion_token_ids)).toEqual([[10, 11], [12]]);
    expect(r?.verl_error).toBeNull();
    expect(r?.verl).toEqual({
      prompt_ids: [1, 2, 3],
      response_ids: [10, 11, 20, 21, 12],
      response_mask: [1, 1, 0, 0, 1],
      response_logprobs: [-0.5, -0.25, 0, 0, -1],
      num_turns: 4,
    });
  } finally {
    batch?.child.kill("SIGKILL");
    outer.child.kill("SIGTERM");
    await outer.done.catch(() => undefined);
    await batch?.done.catch(() => undefined);
  }
});

it("--policy.type=trainer prints TRAINER_URL on --policy.port; SIGINT writes every in-flight cancelled line and summary.json", {
  timeout: 240_000,
}, async () => {
  const port = await freePort();
  const out = join(dir, "sigint");
  const batch = spawnSwerex(
    [
      "run-batch",
      "--instances.path=examples/tasks.jsonl",
      "--instances.slice=0:3",
      "--policy.type=trainer",
      `--policy.port=${port}`,
      "--num_workers=2",
      "--progress=lines",
      `--output_dir=${out}`,
    ],
    { timeoutMs: 230_000 },
  );
  try {
    const url = await waitFor(batch.output, /TRAINER_URL=(\S+)/, "trainer URL");
    expect(url).toBe(`http://127.0.0.1:${port}`);
    // Both workers' agents are now waiting on a model call nobody answers.
    const a = await nextCall(url);
    const b = await nextCall(url);
    expect(new Set([a.session_id, b.session_id]).size).toBe(2);
    batch.child.kill("SIGINT");
    const code = await batch.exited;
    expect(code, batch.output()).toBe(130);
    const rs = await results(out);
    expect(rs.map((r) => [r.instance_id, r.status]).sort()).toEqual(
      [a.session_id, b.session_id].sort().map((id) => [id, "cancelled"]),
    );
    expect(rs.every((r) => r.score === null && r.failure_class === "cancelled")).toBe(true);
    expect(existsSync(join(out, "summary.json"))).toBe(true);
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toMatchObject({ instances: 2, cancelled: 2, completed: 0 });
  } finally {
    batch.child.kill("SIGKILL");
    await batch.done.catch(() => undefined);
  }
});
