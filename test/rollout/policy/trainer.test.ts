/**
 * The trainer-driven backend: the seed's get_request()/send_response() loop, in-process and from another
 * process over the proxy's `/trainer/*` HTTP routes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/rollout/policy/errors.js";
import { TrainerPolicy } from "../../../src/rollout/policy/trainer.js";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import type { PolicyContext } from "../../../src/rollout/types.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function ctx(sessionId: string, step: number, signal = new AbortController().signal): PolicyContext {
  return { sessionId, step, signal, requestId: `req-${sessionId}-${step}` };
}

const req = (text: string) => ({ messages: [{ role: "user" as const, content: text }] });

describe("TrainerPolicy (in process)", () => {
  it("hands calls out oldest first and resolves them with the trainer's answer", async () => {
    const t = new TrainerPolicy();
    cleanups.push(() => t.close());
    const a = t.complete(req("a"), ctx("s1", 0));
    const b = t.complete(req("b"), ctx("s2", 0));
    const first = await t.getRequest({ timeoutMs: 1000 });
    const second = await t.getRequest({ timeoutMs: 1000 });
    expect(first).toEqual({ request_id: "req-s1-0", session_id: "s1", step: 0, request: req("a") });
    expect(second?.request_id).toBe("req-s2-0");
    expect(t.sendResponse("req-s2-0", { content: "B", finish_reason: "stop" })).toBe(true);
    expect(t.sendResponse("req-s1-0", { content: "A", finish_reason: "length" })).toBe(true);
    expect(await a).toEqual({ content: "A", finish_reason: "length" });
    expect(await b).toEqual({ content: "B", finish_reason: "stop" });
    // Answered ids are gone.
    expect(t.sendResponse("req-s1-0", { content: "again", finish_reason: "stop" })).toBe(false);
    expect(t.pendingCount).toBe(0);
  });

  it("a waiting getRequest gets a call that arrives later; with none it returns null at its timeout", async () => {
    const t = new TrainerPolicy();
    cleanups.push(() => t.close());
    expect(await t.getRequest({ timeoutMs: 50 })).toBeNull();
    const waiting = t.getRequest({ timeoutMs: 20_000 });
    const call = t.complete(req("late"), ctx("s", 3));
    const got = await waiting;
    expect(got?.step).toBe(3);
    t.sendResponse(got?.request_id ?? "", { content: "ok", finish_reason: "stop" });
    expect((await call).content).toBe("ok");
  });

  it("filters by session, puts released calls back, and fails calls with sendError", async () => {
    const t = new TrainerPolicy();
    cleanups.push(() => t.close());
    const a = t.complete(req("a"), ctx("A", 0));
    const b = t.complete(req("b"), ctx("B", 0));
    const forB = await t.getRequest({ sessionId: "B", timeoutMs: 1000 });
    expect(forB?.session_id).toBe("B");
    expect(await t.getRequest({ sessionId: "B", timeoutMs: 10 })).toBeNull();
    expect(t.release(forB?.request_id ?? "")).toBe(true);
    expect((await t.getRequest({ sessionId: "B", timeoutMs: 10 }))?.request_id).toBe(forB?.request_id);
    expect(
      t.sendError("req-A-0", { message: "prompt too long", code: "context_length_exceeded", status: 400 }),
    ).toBe(true);
    const err = await a.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    expect(err).toMatchObject({ status: 400, code: "context_length_exceeded", message: "prompt too long" });
    t.sendResponse("req-B-0", { content: "b", finish_reason: "stop" });
    await b;
  });

  it("a cancelled call leaves the queue, and close fails the rest with 503", async () => {
    const t = new TrainerPolicy();
    const ac = new AbortController();
    const cancelled = t.complete(req("x"), ctx("s", 0, ac.signal));
    const open = t.complete(req("y"), ctx("s", 1));
    ac.abort(new PolicyError("gone", { status: 499, type: "cancelled" }));
    expect(await cancelled.catch((e: PolicyError) => e.status)).toBe(499);
    expect(t.pendingCount).toBe(1);
    const poll = t.getRequest({ sessionId: "other", timeoutMs: 20_000 });
    await t.close();
    expect(await open.catch((e: PolicyError) => e.status)).toBe(503);
    expect(await poll).toBeNull();
  });

  it("getRequest rejects when its signal aborts", async () => {
    const t = new TrainerPolicy();
    cleanups.push(() => t.close());
    const ac = new AbortController();
    const p = t.getRequest({ signal: ac.signal, timeoutMs: 20_000 });
    ac.abort(new Error("stop polling"));
    await expect(p).rejects.toThrow("stop polling");
  });
});

/** A trainer in another process: long-polls the proxy and answers each call, then exits. */
const TRAINER_SCRIPT = `
const [base, count, token] = process.argv.slice(2);
const headers = token ? { authorization: "Bearer " + token } : {};
const deadline = Date.now() + 60000;
let answered = 0;
while (answered < Number(count) && Date.now() < deadline) {
  const res = await fetch(base + "/trainer/requests?wait=5", { headers, signal: AbortSignal.timeout(15000) });
  if (res.status === 204) continue;
  if (res.status !== 200) { console.error("poll failed", res.status, await res.text()); process.exit(2); }
  const call = await res.json();
  const last = call.request.messages.at(-1).content;
  const answer = {
    content: "trainer(pid " + process.pid + ") step " + call.step + " of " + call.session_id + ": " + last,
    finish_reason: "stop",
    prompt_token_ids: [1, 2, 3],
    completion_token_ids: [7, 8],
    logprobs: [-0.5, -0.25],
  };
  const post = await fetch(base + "/trainer/responses/" + encodeURIComponent(call.request_id), {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(answer),
    signal: AbortSignal.timeout(15000),
  });
  if (post.status !== 200) { console.error("answer failed", post.status); process.exit(3); }
  answered++;
}
process.exit(answered === Number(count) ? 0 : 1);
`;

function spawnTrainer(
  proxy: ModelProxy,
  count: number,
  token?: string,
): { child: ChildProcess; exit: Promise<number | null> } {
  const dir = mkdtempSync(join(tmpdir(), "swerex-trainer-"));
  const script = join(dir, "trainer.mjs");
  writeFileSync(script, TRAINER_SCRIPT);
  const child = spawn(process.execPath, [script, proxy.url, String(count), ...(token ? [token] : [])], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return { child, exit };
}

describe("trainer over HTTP from another process", () => {
  it("answers an agent's calls; records carry the trainer's token ids", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await startModelProxy({ policy: trainer, requestTimeoutS: 60 });
    cleanups.push(() => proxy.close());
    const session = proxy.openSession("rollout-7");
    const { child, exit } = spawnTrainer(proxy, 3);
    const agent = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 60_000 });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "task" }];
    for (let i = 0; i < 3; i++) {
      const r = await agent.chat.completions.create({ model: "m", messages });
      const text = r.choices[0]?.message.content ?? "";
      expect(text).toBe(
        `trainer(pid ${child.pid}) step ${i} of rollout-7: ${i === 0 ? "task" : `obs ${i - 1}`}`,
      );
      messages.push({ role: "assistant", content: text }, { role: "user", content: `obs ${i}` });
      // Usage falls back to the token-id counts the trainer sent.
      expect(r.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    }
    expect(await exit).toBe(0);
    expect(child.pid).not.toBe(process.pid);
    const recs = session.records();
    expect(recs.map((r) => r.step)).toEqual([0, 1, 2]);
    expect(recs[2]?.response).toMatchObject({ completion_token_ids: [7, 8], logprobs: [-0.5, -0.25] });
  });

  it("requires the trainer token when one is set, and validates answers", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await startModelProxy({ policy: trainer, trainerToken: "t0k3n" });
    cleanups.push(() => proxy.close());
    const noAuth = await fetch(`${proxy.url}/trainer/requests?wait=0`, {
      signal: AbortSignal.timeout(10_000),
    });
    expect(noAuth.status).toBe(401);
    const auth = { authorization: "Bearer t0k3n" };
    const empty = await fetch(`${proxy.url}/trainer/requests?wait=0`, {
      headers: auth,
      signal: AbortSignal.timeout(10_000),
    });
    expect(empty.status).toBe(204);
    const tooLong = await fetch(`${proxy.url}/trainer/requests?wait=3600`, {
      headers: auth,
      signal: AbortSignal.timeout(10_000),
    });
    expect(tooLong.status).toBe(400);
    const unknown = await fetch(`${proxy.url}/trainer/responses/nope`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ content: "x", finish_reason: "stop" }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(unknown.status).toBe(404);
    const session = proxy.openSession();
    const call = fetch(`${session.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(req("hello")),
      signal: AbortSignal.timeout(30_000),
    });
    const polled = await fetch(`${proxy.url}/trainer/requests?wait=20&session_id=${session.id}`, {
      headers: auth,
      signal: AbortSignal.timeout(30_000),
    });
    const item = (await polled.json()) as { request_id: string };
    const bad = await fetch(`${proxy.url}/trainer/responses/${item.request_id}`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ content: "x", finish_reason: "maybe" }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("finish_reason");
    const fail = await fetch(`${proxy.url}/trainer/errors/${item.request_id}`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ message: "prompt too long", status: 400, code: "context_length_exceeded" }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(fail.status).toBe(200);
    const res = await call;
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("context_length_exceeded");
  });

  it("a trainer that never answers: the agent gets the per-request timeout as an OpenAI error", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await startModelProxy({ policy: trainer, requestTimeoutS: 1 });
    cleanups.push(() => proxy.close());
    const session = proxy.openSession();
    // The trainer takes the call over HTTP and then goes silent.
    const call = new OpenAI({
      baseURL: session.baseUrl,
      apiKey: "x",
      maxRetries: 0,
      timeout: 30_000,
    }).chat.completions
      .create({ model: "m", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    const polled = await fetch(`${proxy.url}/trainer/requests?wait=20`, {
      signal: AbortSignal.timeout(30_000),
    });
    const item = (await polled.json()) as { request_id: string };
    const err = (await call) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.code).toBe("request_timeout");
    const late = await fetch(`${proxy.url}/trainer/responses/${item.request_id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "too late", finish_reason: "stop" }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(late.status).toBe(404);
  });

  it("closing the proxy ends a trainer's long-poll at once", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await startModelProxy({ policy: trainer });
    const poll = fetch(`${proxy.url}/trainer/requests?wait=60`, { signal: AbortSignal.timeout(30_000) });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await proxy.close();
    const res = await poll;
    expect(res.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
