/**
 * Limits enforced by the proxy end the agent's call with a clean OpenAI error, never a hang: max_steps (403
 * `max_steps_exceeded`, not retried by the SDK), the per-request timeout (504 `request_timeout`), upstream
 * failures, and a client that hangs up (the backend's call is cancelled).
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/rollout/policy/errors.js";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import { TrainerPolicy } from "../../../src/rollout/policy/trainer.js";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import type { PolicyBackend, PolicyContext } from "../../../src/rollout/types.js";
import { startFakeUpstream } from "./fake-upstream.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyWith(opts: Parameters<typeof startModelProxy>[0]): Promise<ModelProxy> {
  const p = await startModelProxy(opts);
  cleanups.push(() => p.close());
  return p;
}

/** Answers every call with "ok <step>" and counts the calls it saw. */
function countingPolicy(): PolicyBackend & { seen: PolicyContext[] } {
  const seen: PolicyContext[] = [];
  return {
    seen,
    async complete(_req, ctx) {
      seen.push(ctx);
      return { content: `ok ${ctx.step}`, finish_reason: "stop" };
    },
  };
}

const user = [{ role: "user" as const, content: "go" }];

describe("max_steps", () => {
  it("answers maxSteps calls, then a 403 max_steps_exceeded the SDK does not retry", async () => {
    const policy = countingPolicy();
    const proxy = await proxyWith({ policy });
    const session = proxy.openSession("s1", { maxSteps: 3 });
    // Default SDK retries stay on: the proxy's `x-should-retry: false` must stop them.
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", timeout: 30_000 });
    for (let i = 0; i < 3; i++) {
      const r = await c.chat.completions.create({ model: "m", messages: user });
      expect(r.choices[0]?.message.content).toBe(`ok ${i}`);
    }
    expect(session.done).toBe(true);
    expect(session.limitReached).toBe(false);
    const err = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(403);
    expect(apiErr.code).toBe("max_steps_exceeded");
    expect(apiErr.type).toBe("max_steps_exceeded");
    expect(apiErr.message).toContain("may make 3 model calls");
    expect(policy.seen).toHaveLength(3);
    expect(session.steps).toBe(3);
    expect(session.limitReached).toBe(true);
    const recs = session.records();
    // Exactly one refused call recorded: the SDK did not retry it.
    expect(recs).toHaveLength(4);
    expect(recs[3]?.error).toMatchObject({
      type: "max_steps_exceeded",
      code: "max_steps_exceeded",
      status: 403,
    });
    expect(recs[3]?.response).toBeNull();
  });

  it("maxSteps 0 means no limit (SWE-agent's per_instance_call_limit convention)", async () => {
    const policy = countingPolicy();
    const proxy = await proxyWith({ policy, maxSteps: 0 });
    const session = proxy.openSession("unlimited");
    expect(session.maxSteps).toBe(0);
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    for (let i = 0; i < 35; i++) {
      const r = await c.chat.completions.create({ model: "m", messages: user });
      expect(r.choices[0]?.message.content).toBe(`ok ${i}`);
    }
    expect(session.steps).toBe(35);
    expect(session.done).toBe(false);
    expect(session.limitReached).toBe(false);
    expect(session.records().every((r) => r.error === undefined)).toBe(true);
  });

  it("defaults to the seed's 30 calls", async () => {
    const proxy = await proxyWith({ policy: countingPolicy() });
    expect(proxy.openSession().maxSteps).toBe(30);
    const p2 = await proxyWith({ policy: countingPolicy(), maxSteps: 5 });
    expect(p2.openSession().maxSteps).toBe(5);
  });

  it("raw HTTP shape of the error is OpenAI's", async () => {
    const proxy = await proxyWith({ policy: countingPolicy() });
    const session = proxy.openSession("raw", { maxSteps: 1 });
    const send = () =>
      fetch(`${session.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: user }),
        signal: AbortSignal.timeout(30_000),
      });
    expect((await send()).status).toBe(200);
    const res = await send();
    expect(res.status).toBe(403);
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(await res.json()).toEqual({
      error: {
        message: "max_steps reached: session raw may make 1 model calls and has made 1",
        type: "max_steps_exceeded",
        param: null,
        code: "max_steps_exceeded",
      },
    });
  });
});

describe("per-request timeout", () => {
  it("a call nobody answers ends with a 504 request_timeout and leaves nothing pending", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({ policy: trainer, requestTimeoutS: 0.5 });
    const session = proxy.openSession();
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", timeout: 30_000 });
    const t0 = Date.now();
    const err = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("request_timeout");
    // Not retried (x-should-retry: false), so one timeout's worth of waiting, not three.
    expect(elapsed).toBeLessThan(20_000);
    expect(trainer.pendingCount).toBe(0);
    expect(session.records()).toHaveLength(1);
    expect(session.records()[0]?.error).toMatchObject({
      type: "timeout",
      code: "request_timeout",
      status: 504,
    });
    expect(session.pending).toBe(0);
  });

  it("bounds an upstream that never answers", async () => {
    const upstream = await startFakeUpstream({ delayMs: 60_000 });
    const policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    cleanups.push(async () => {
      await policy.close();
      await upstream.close();
    });
    const proxy = await proxyWith({ policy, requestTimeoutS: 0.3 });
    const session = proxy.openSession();
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", timeout: 30_000, maxRetries: 0 });
    const err = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(session.records()[0]?.error?.code).toBe("request_timeout");
  });
});

describe("backend failures", () => {
  it("passes an upstream 400 through with its OpenAI error code", async () => {
    const upstream = await startFakeUpstream({
      script: () => ({
        status: 400,
        json: {
          error: {
            message: "This model's maximum context length is 32768 tokens",
            type: "BadRequestError",
            code: "context_length_exceeded",
          },
        },
      }),
    });
    const policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    cleanups.push(async () => {
      await policy.close();
      await upstream.close();
    });
    const proxy = await proxyWith({ policy });
    const session = proxy.openSession();
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0 });
    const err = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("context_length_exceeded");
    expect((err as Error).message).toContain("maximum context length is 32768 tokens");
  });

  it("an unreachable upstream is a 502 naming the origin but never the api key", async () => {
    const upstream = await startFakeUpstream();
    const base = upstream.baseUrl;
    await upstream.close();
    const policy = new OpenAIPolicy({ base_url: base, api_key: "sk-TOPSECRET" });
    cleanups.push(() => policy.close());
    const logs: string[] = [];
    const sink = (obj: object, msg?: string) => logs.push(JSON.stringify(obj) + (msg ?? ""));
    const proxy = await proxyWith({ policy, logger: { debug: sink, info: sink, warn: sink, error: sink } });
    const session = proxy.openSession();
    const res = await fetch(`${session.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: user }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("upstream_unreachable");
    expect(body.error.message).toContain(new URL(base).origin);
    expect(body.error.message).toContain("ECONNREFUSED");
    const everything = JSON.stringify(body) + JSON.stringify(session.records()) + logs.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    expect(everything).not.toContain("TOPSECRET");
  });

  it("a backend that throws gives a 502 policy_error and the session keeps working", async () => {
    let n = 0;
    const proxy = await proxyWith({
      policy: {
        async complete() {
          if (n++ === 0) throw new Error("engine crashed");
          return { content: "fine", finish_reason: "stop" };
        },
      },
    });
    const session = proxy.openSession();
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0 });
    const err = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const ok = await c.chat.completions.create({ model: "m", messages: user });
    expect(ok.choices[0]?.message.content).toBe("fine");
    expect(session.records().map((r) => r.step)).toEqual([0, 1]);
  });

  it("a PolicyError thrown by a backend reaches the agent as is", async () => {
    const proxy = await proxyWith({
      policy: {
        async complete() {
          throw new PolicyError("weights are syncing", {
            status: 429,
            type: "paused",
            code: "paused",
            retryable: true,
          });
        },
      },
    });
    const session = proxy.openSession();
    const res = await fetch(`${session.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: user }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("x-should-retry")).toBe("true");
    expect(await res.json()).toEqual({
      error: { message: "weights are syncing", type: "paused", param: null, code: "paused" },
    });
  });
});

describe("cancellation", () => {
  it("an agent that hangs up cancels the backend call", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({ policy: trainer });
    const session = proxy.openSession();
    const ac = new AbortController();
    const call = fetch(`${session.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: user }),
      signal: ac.signal,
    }).catch(() => "aborted");
    const req = await trainer.getRequest({ timeoutMs: 20_000 });
    expect(req?.session_id).toBe(session.id);
    expect(trainer.pendingCount).toBe(1);
    ac.abort();
    expect(await call).toBe("aborted");
    const deadline = Date.now() + 20_000;
    while (trainer.pendingCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(trainer.pendingCount).toBe(0);
    expect(trainer.sendResponse(req?.request_id ?? "", { content: "late", finish_reason: "stop" })).toBe(
      false,
    );
    expect(session.records()[0]?.error?.code).toBe("client_closed");
  });

  it("closing a session fails its waiting calls with 410 and later calls with 404", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({ policy: trainer });
    const session = proxy.openSession("closing");
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    const waiting = c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    await trainer.getRequest({ timeoutMs: 20_000 });
    await session.close();
    expect(((await waiting) as InstanceType<typeof OpenAI.APIError>).status).toBe(410);
    const after = await c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    expect((after as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
    expect((after as InstanceType<typeof OpenAI.APIError>).code).toBe("session_not_found");
    expect(session.done).toBe(true);
    expect(proxy.getSession("closing")).toBeUndefined();
  });

  it("closing the proxy fails waiting calls with 503 instead of hanging", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await startModelProxy({ policy: trainer });
    const session = proxy.openSession();
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    const waiting = c.chat.completions.create({ model: "m", messages: user }).catch((e: unknown) => e);
    await trainer.getRequest({ timeoutMs: 20_000 });
    await proxy.close();
    expect(((await waiting) as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
  });
});
