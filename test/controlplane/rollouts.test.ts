/**
 * Rollouts on real `swerex serve` processes (local deployment, the example tasks): a full rollout whose model
 * calls a trainer answers over `/v1/calls` with token ids from the recorded gold trajectory (resolved; the ids
 * reach the trajectory and the verl fields); FIFO order under `--max_rollouts`; cancellation stops the
 * sandbox; a SIGKILLed service fails its running rollout as `infrastructure` on restart and stops its
 * sandbox; a trainer error reaches the agent; bad input, idempotency and owner isolation; a rollout takes its
 * sandbox from a warm pool.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SweTask } from "../../src/rollout/tasks/task.js";
import { exampleTask } from "../rollout/e2e/harness.js";
import {
  api,
  newDataDir,
  type ServeProcess,
  startServe,
  startServeWithConfig,
  testServiceId,
  until,
} from "./serve.js";

const KEY = "rollout-key-a";
const OTHER = "rollout-key-b";
const TRAINER = { type: "trainer" };

interface Call {
  call_id: string;
  rollout_id: string;
  step: number;
  request: { messages: { role: string; content: string }[] };
}

/** The gold trajectory's replies for one instance, in step order. */
async function goldReplies(instanceId: string): Promise<string[]> {
  const lines = (await readFile("examples/trajectories.jsonl", "utf8")).trim().split("\n");
  return lines
    .map((l) => JSON.parse(l) as { session_id: string; step: number; response: { content: string } })
    .filter((r) => r.session_id === instanceId)
    .sort((a, b) => a.step - b.step)
    .map((r) => r.response.content);
}

/**
 * Token ids a trainer would send for step `i`: the prompt extends the previous prompt + completion by one
 * observation token (900 + i), each completion is two ids, each with a logprob.
 */
function tokenIds(i: number) {
  let prompt = [1, 2, 3];
  for (let s = 1; s <= i; s++) prompt = [...prompt, 100 * s - 99, 100 * s - 98, 900 + s];
  return {
    prompt_token_ids: prompt,
    completion_token_ids: [100 * i + 1, 100 * i + 2],
    logprobs: [-0.5, -0.25],
  };
}

async function nextCall(url: string, path: string, key = KEY): Promise<Call> {
  return until(
    `a model call at ${path}`,
    async () => {
      const r = await api(url, "GET", `${path}?timeout=10`, { key });
      if (r.status === 200) return r.body as Call;
      expect(r.status, r.text).toBe(204);
      return undefined;
    },
    180_000,
  );
}

async function waitDone(url: string, id: string, key = KEY) {
  return until(
    `rollout ${id} done`,
    async () => {
      const r = await api(url, "GET", `/v1/rollouts/${id}`, { key });
      return ["completed", "failed", "cancelled"].includes(r.body.state) ? r.body : undefined;
    },
    240_000,
  );
}

async function createRollout(url: string, body: object, key = KEY, headers: Record<string, string> = {}) {
  const r = await api(url, "POST", "/v1/rollouts", { key, body, headers });
  expect(r.status, r.text).toBe(201);
  return r.body as { id: string; state: string };
}

let task: SweTask;
let duration: SweTask;
beforeAll(async () => {
  task = await exampleTask("examples__stats-median");
  duration = await exampleTask("examples__duration-seconds");
});

describe("one service (--max_rollouts=1)", () => {
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess;
  beforeAll(async () => {
    data = await newDataDir();
    serve = await startServe({
      dataDir: data.dir,
      keys: [KEY, OTHER],
      serviceId: testServiceId(),
      args: ["--max_rollouts", "1", "--instances.deployment.type", "local"],
    });
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    await data?.remove();
  });

  it("runs a rollout answered over /v1/calls with token ids: resolved, exact verl fields, sandbox stopped", {
    timeout: 300_000,
  }, async () => {
    const replies = await goldReplies(task.instance_id);
    const { id, state } = await createRollout(serve.url, {
      task,
      policy: TRAINER,
      metadata: { run: "gold" },
    });
    expect(id).toMatch(/^rol-[a-z2-7]{20}$/);
    expect(state).toBe("queued");
    for (const [i, content] of replies.entries()) {
      const call = await nextCall(serve.url, `/v1/rollouts/${id}/calls/next`);
      expect(call.rollout_id).toBe(id);
      expect(call.step).toBe(i);
      // Another key neither sees nor answers this rollout's calls.
      expect((await api(serve.url, "GET", "/v1/calls/next?timeout=0", { key: OTHER })).status).toBe(204);
      const foreign = await api(serve.url, "POST", `/v1/calls/${call.call_id}`, {
        key: OTHER,
        body: { content, finish_reason: "stop" },
      });
      expect(foreign.status).toBe(404);
      const ok = await api(serve.url, "POST", `/v1/calls/${call.call_id}`, {
        key: KEY,
        body: { content, finish_reason: "stop", ...tokenIds(i) },
      });
      expect(ok.status, ok.text).toBe(200);
    }
    const done = await waitDone(serve.url, id);
    expect(done.state).toBe("completed");
    const result = done.result;
    expect(result.resolved).toBe(true);
    expect(result.score).toBe(1);
    expect(result.failure_class).toBeNull();
    expect(
      result.trajectory.map(
        (t: { response: { completion_token_ids: number[] } }) => t.response.completion_token_ids,
      ),
    ).toEqual(replies.map((_, i) => tokenIds(i).completion_token_ids));
    const last = tokenIds(replies.length - 1);
    expect(result.verl_error).toBeNull();
    expect(result.verl.prompt_ids).toEqual([1, 2, 3]);
    expect(result.verl.response_ids).toEqual([
      ...last.prompt_token_ids.slice(3),
      ...last.completion_token_ids,
    ]);
    expect(result.verl.response_mask).toEqual(replies.flatMap((_, i) => (i === 0 ? [1, 1] : [0, 1, 1])));
    expect(result.verl.response_logprobs).toEqual(
      replies.flatMap((_, i) => (i === 0 ? [-0.5, -0.25] : [0, -0.5, -0.25])),
    );
    expect(done.metadata).toEqual({ run: "gold" });
    const sandbox = await api(serve.url, "GET", `/v1/sandboxes/${done.sandbox_id}`, { key: KEY });
    expect(sandbox.body.state).toBe("stopped");
    expect(sandbox.body.metadata).toEqual({ rollout_id: id });
    // Owner isolation and listing.
    expect((await api(serve.url, "GET", `/v1/rollouts/${id}`, { key: OTHER })).status).toBe(404);
    const mine = await api(serve.url, "GET", "/v1/rollouts?state=completed&metadata.run=gold", { key: KEY });
    expect(mine.body.items.map((r: { id: string }) => r.id)).toEqual([id]);
    expect(mine.body.items[0].result).toBeUndefined();
    expect((await api(serve.url, "GET", "/v1/rollouts", { key: OTHER })).body.items).toEqual([]);
  });

  it("starts queued rollouts in FIFO order, one at a time; DELETE cancels queued and running ones and stops the sandbox", {
    timeout: 300_000,
  }, async () => {
    const a = await createRollout(serve.url, { task, policy: TRAINER });
    const b = await createRollout(serve.url, { task: duration, policy: TRAINER });
    const c = await createRollout(serve.url, { task, policy: TRAINER });
    const first = await nextCall(serve.url, "/v1/calls/next");
    expect(first.rollout_id).toBe(a.id);
    const states = async () =>
      Promise.all(
        [a, b, c].map(
          async (r) => (await api(serve.url, "GET", `/v1/rollouts/${r.id}`, { key: KEY })).body.state,
        ),
      );
    expect(await states()).toEqual(["running", "queued", "queued"]);
    const runningA = (await api(serve.url, "GET", `/v1/rollouts/${a.id}`, { key: KEY })).body;
    expect(runningA.sandbox_id).toMatch(/^sbx-/);
    expect(
      (await api(serve.url, "GET", `/v1/sandboxes/${runningA.sandbox_id}`, { key: KEY })).body.state,
    ).toBe("running");

    // Cancelling a running rollout stops its sandbox.
    const cancelledA = await api(serve.url, "DELETE", `/v1/rollouts/${a.id}`, { key: KEY });
    expect(cancelledA.status).toBe(200);
    expect(cancelledA.body.state).toBe("cancelled");
    expect(cancelledA.body.result.failure_class).toBe("cancelled");
    expect(cancelledA.body.result.score).toBeNull();
    expect(
      (await api(serve.url, "GET", `/v1/sandboxes/${runningA.sandbox_id}`, { key: KEY })).body.state,
    ).toBe("stopped");
    // The answer to a cancelled rollout's call is a 404.
    const late = await api(serve.url, "POST", `/v1/calls/${first.call_id}`, {
      key: KEY,
      body: { content: "x", finish_reason: "stop" },
    });
    expect(late.status).toBe(404);

    // b (next in line) runs now; c waits. Cancelling the queued c never starts it.
    const second = await nextCall(serve.url, "/v1/calls/next");
    expect(second.rollout_id).toBe(b.id);
    const cancelledC = await api(serve.url, "DELETE", `/v1/rollouts/${c.id}`, { key: KEY });
    expect(cancelledC.body.state).toBe("cancelled");
    expect(cancelledC.body.sandbox_id).toBeNull();
    expect(cancelledC.body.started_at).toBeNull();

    // A trainer error reaches the agent as an OpenAI error (recorded in the trajectory).
    const err = await api(serve.url, "POST", `/v1/calls/${second.call_id}/error`, {
      key: KEY,
      body: { status: 400, code: "context_length_exceeded", message: "prompt too long" },
    });
    expect(err.status, err.text).toBe(200);
    const doneB = await waitDone(serve.url, b.id);
    expect(doneB.result.trajectory[0].error).toMatchObject({
      status: 400,
      code: "context_length_exceeded",
      message: "prompt too long",
    });
    expect((await api(serve.url, "GET", `/v1/sandboxes/${doneB.sandbox_id}`, { key: KEY })).body.state).toBe(
      "stopped",
    );
    // A second DELETE returns the finished record again.
    expect((await api(serve.url, "DELETE", `/v1/rollouts/${a.id}`, { key: KEY })).body.state).toBe(
      "cancelled",
    );
  });

  it("answers bad input with 422 naming the field; Idempotency-Key returns the same rollout", {
    timeout: 120_000,
  }, async () => {
    const relative = await api(serve.url, "POST", "/v1/rollouts", {
      key: KEY,
      body: { task: { ...task, repo_dir: "examples/stats-median" }, policy: TRAINER },
    });
    expect(relative.status).toBe(422);
    expect(relative.body.error.issues.map((i: { field: string }) => i.field)).toEqual(["task.repo_dir"]);
    const steps = await api(serve.url, "POST", "/v1/rollouts", {
      key: KEY,
      body: { task, policy: TRAINER, max_steps: -1 },
    });
    expect(steps.status).toBe(422);
    expect(steps.body.error.issues.map((i: { field: string }) => i.field)).toEqual(["max_steps"]);
    const bad = await api(serve.url, "POST", "/v1/rollouts", {
      key: KEY,
      body: { task: { instance_id: "x" }, policy: { type: "nope" } },
    });
    expect(bad.status).toBe(422);
    const fields: string[] = bad.body.error.issues.map((i: { field: string }) => i.field);
    expect(fields[0]).toBe("task");
    expect(fields.some((f) => f.startsWith("policy"))).toBe(true);
    const headers = { "idempotency-key": "same-rollout" };
    const one = await createRollout(serve.url, { task, policy: TRAINER }, KEY, headers);
    const two = await createRollout(serve.url, { task, policy: TRAINER }, KEY, headers);
    expect(two.id).toBe(one.id);
    const other = await api(serve.url, "POST", "/v1/rollouts", {
      key: KEY,
      body: { task: duration, policy: TRAINER },
      headers,
    });
    expect(other.status).toBe(422);
    expect((await api(serve.url, "DELETE", `/v1/rollouts/${one.id}`, { key: KEY })).body.state).toBe(
      "cancelled",
    );
    const doc = await api(serve.url, "GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        "/v1/rollouts",
        "/v1/rollouts/{id}",
        "/v1/rollouts/{id}/calls/next",
        "/v1/calls/next",
        "/v1/calls/{call_id}",
        "/v1/calls/{call_id}/error",
      ]),
    );
  });
});

it("a rollout running when the service is SIGKILLed is failed (infrastructure) after restart, its sandbox stopped", {
  timeout: 300_000,
}, async () => {
  const data = await newDataDir();
  const serviceId = testServiceId();
  const args = ["--instances.deployment.type", "local"];
  let serve = await startServe({ dataDir: data.dir, keys: [KEY], serviceId, args });
  try {
    const { id } = await createRollout(serve.url, { task, policy: TRAINER });
    await nextCall(serve.url, `/v1/rollouts/${id}/calls/next`);
    const running = (await api(serve.url, "GET", `/v1/rollouts/${id}`, { key: KEY })).body;
    expect(running.state).toBe("running");
    const sandbox = (await api(serve.url, "GET", `/v1/sandboxes/${running.sandbox_id}`, { key: KEY })).body;
    expect(sandbox.state).toBe("running");
    await serve.stop("SIGKILL");
    serve = await startServe({ dataDir: data.dir, keys: [KEY], serviceId, args });
    const after = (await api(serve.url, "GET", `/v1/rollouts/${id}`, { key: KEY })).body;
    expect(after.state).toBe("failed");
    expect(after.error.class).toBe("infrastructure");
    expect(after.result).toMatchObject({ status: "failed", failure_class: "infrastructure", score: null });
    const stopped = (await api(serve.url, "GET", `/v1/sandboxes/${running.sandbox_id}`, { key: KEY })).body;
    expect(stopped.state).toBe("stopped");
  } finally {
    await serve.stop();
    await data.remove();
  }
});

describe("a service with a warm pool", () => {
  let serve: Awaited<ReturnType<typeof startServeWithConfig>>;
  beforeAll(async () => {
    serve = await startServeWithConfig(
      { pools: [{ name: "warm", size: 1 }] },
      { keys: [KEY], serviceId: testServiceId(), args: ["--instances.deployment.type", "local"] },
    );
  }, 120_000);
  afterAll(async () => {
    await serve?.remove();
  });

  it("takes a rollout's sandbox from the pool; pool with deployment or an unknown pool is a 422 naming pool", {
    timeout: 300_000,
  }, async () => {
    const ready = async () => {
      const pools = await api(serve.url, "GET", "/v1/pools", { key: KEY });
      return pools.body.items[0]?.ready === 1 ? pools.body.items[0] : undefined;
    };
    await until("the pool has a ready sandbox", ready, 120_000);
    const pooled = await api(serve.url, "GET", "/v1/sandboxes?state=running", { key: KEY });
    expect(pooled.body.items).toEqual([]);

    const replay = { type: "replay", path: resolve("examples/trajectories.jsonl") };
    const { id } = await createRollout(serve.url, { task, policy: replay, pool: "warm" });
    const done = await waitDone(serve.url, id);
    expect(done.state).toBe("completed");
    expect(done.result.resolved).toBe(true);
    const sandbox = (await api(serve.url, "GET", `/v1/sandboxes/${done.sandbox_id}`, { key: KEY })).body;
    expect(sandbox.pool).toBe("warm");
    expect(sandbox.state).toBe("stopped");
    expect(sandbox.metadata).toEqual({ rollout_id: id });

    for (const body of [
      { task, policy: replay, pool: "warm", deployment: { type: "local" } },
      { task, policy: replay, pool: "cold" },
      { task, policy: replay, pool: 7 },
    ]) {
      const r = await api(serve.url, "POST", "/v1/rollouts", { key: KEY, body });
      expect(r.status, r.text).toBe(422);
      expect(r.body.error.issues.map((i: { field: string }) => i.field)).toEqual(["pool"]);
    }
  });
});
