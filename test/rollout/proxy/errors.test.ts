/**
 * Whatever the agent or the upstream sends, the agent gets an OpenAI error with a sensible status (never a
 * 500 from the HTTP layer, a redirect, or a retryable "unreachable" for an answer that did arrive), the proxy
 * keeps serving, and throwaway session ids do not pile up. All over real HTTP.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/rollout/policy/errors.js";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import { TrainerPolicy } from "../../../src/rollout/policy/trainer.js";
import {
  MAX_BODY_DEPTH,
  type ModelProxy,
  type ModelProxyOptions,
  startModelProxy,
} from "../../../src/rollout/proxy/model-proxy.js";
import type { PolicyBackend } from "../../../src/rollout/types.js";
import { fakeAnswer } from "./fake-upstream.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyWith(opts: ModelProxyOptions): Promise<ModelProxy> {
  const p = await startModelProxy(opts);
  cleanups.push(() => p.close());
  return p;
}

const echo: PolicyBackend = {
  async complete(req) {
    return { content: `ok ${req.messages.length}`, finish_reason: "stop" };
  },
};

interface Answer {
  status: number;
  status_text?: string;
  json?: unknown;
  text?: string;
  status_headers?: Record<string, string>;
}

/** An upstream on a raw node:http server, so it can send what fastify would refuse to (status 999, 304). */
async function rawUpstream(answer: (body: Record<string, unknown>) => Answer): Promise<string> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = "";
    req.on("data", (c: Buffer) => {
      data += c.toString();
    });
    req.on("end", () => {
      const a = answer(JSON.parse(data) as Record<string, unknown>);
      const text = a.text ?? (a.json === undefined ? "" : JSON.stringify(a.json));
      res.writeHead(a.status, { "content-type": "application/json", ...a.status_headers });
      res.end(a.status === 304 ? undefined : text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

interface Reply {
  status: number;
  retry: string | null;
  location: string | null;
  body: { error?: { message: string; type: string; param: string | null; code: string | null } } & Record<
    string,
    unknown
  >;
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  return {
    status: res.status,
    retry: res.headers.get("x-should-retry"),
    location: res.headers.get("location"),
    body: (await res.json()) as Reply["body"],
  };
}

const chat = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

function expectOpenAIError(r: Reply, status: number, code: string): void {
  expect(r.status).toBe(status);
  expect(Object.keys(r.body)).toEqual(["error"]);
  expect(Object.keys(r.body.error ?? {}).sort()).toEqual(["code", "message", "param", "type"]);
  expect(r.body.error?.code).toBe(code);
  expect(typeof r.body.error?.message).toBe("string");
}

describe("bad agent input gets a 4xx naming the field, and the proxy keeps serving", () => {
  it("an empty or over-long x-session-id is a 400, not a 500", async () => {
    const proxy = await proxyWith({ policy: echo, autoSessions: true, defaultSession: {} });
    const url = `${proxy.url}/v1/chat/completions`;
    const empty = await post(url, chat, { "x-session-id": "" });
    expectOpenAIError(empty, 400, "invalid_request");
    expect(empty.body.error?.param).toBe("x-session-id");
    expect(empty.retry).toBe("false");
    const long = await post(url, chat, { "x-session-id": "s".repeat(600) });
    expectOpenAIError(long, 400, "invalid_request");
    expect(long.body.error?.message).toContain("x-session-id");
    const ok = await post(url, chat, { "x-session-id": "fine" });
    expect(ok.status).toBe(200);
    expect(proxy.getSession("fine")).toBeDefined();
  });

  it("a body nested 10k deep is a 400 at once; a tool schema nested 100 deep is served", async () => {
    let seen = 0;
    const policy: PolicyBackend = {
      async complete() {
        seen++;
        return { content: "ok", finish_reason: "stop" };
      },
    };
    const proxy = await proxyWith({ policy, defaultSession: {} });
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const r = await post(`${proxy.url}/v1/chat/completions`, chat.replace(/}$/, `,"extra":${deep}}`));
    expectOpenAIError(r, 400, "invalid_request");
    expect(r.body.error?.message).toContain(`nested deeper than ${MAX_BODY_DEPTH}`);
    expect(seen).toBe(0);
    let schema: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 48; i++) schema = { type: "object", properties: { x: schema } };
    const tools = [{ type: "function", function: { name: "f", parameters: schema } }];
    const fine = await post(
      `${proxy.url}/v1/chat/completions`,
      JSON.stringify({ messages: [{ role: "user", content: "x" }], tools }),
    );
    expect(fine.status).toBe(200);
    expect(seen).toBe(1);
  });

  it("on the trainer proxy a deep body never reaches the queue (no call lost until its timeout)", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({ policy: trainer, defaultSession: {}, requestTimeoutS: 600 });
    const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const r = await post(`${proxy.url}/v1/chat/completions`, chat.replace(/}$/, `,"extra":${deep}}`));
    expectOpenAIError(r, 400, "invalid_request");
    expect(trainer.pendingCount).toBe(0);
    const poll = await fetch(`${proxy.url}/trainer/requests?wait=0`);
    expect(poll.status).toBe(204);
  });

  it("n > 1 is refused with 400 unsupported_value (param n) and recorded like any other call", async () => {
    const proxy = await proxyWith({ policy: echo });
    const session = proxy.openSession("n", { maxSteps: 5 });
    const r = await post(
      `${session.baseUrl}/chat/completions`,
      JSON.stringify({ messages: [{ role: "user", content: "x" }], n: 3 }),
    );
    expectOpenAIError(r, 400, "unsupported_value");
    expect(r.body.error?.param).toBe("n");
    const recs = session.records();
    expect(recs).toHaveLength(1);
    expect(recs[0]?.response).toBeNull();
    expect(recs[0]?.error).toMatchObject({ status: 400, code: "unsupported_value" });
    expect(recs[0]?.request.n).toBe(3);
    expect(session.steps).toBe(0);
  });

  it("a backend error with a status outside 400-599 reaches the agent as a 502, not a redirect or a 500", async () => {
    const policy: PolicyBackend = {
      async complete() {
        throw new PolicyError("odd", { status: 302, type: "weird" });
      },
    };
    const proxy = await proxyWith({ policy, defaultSession: {} });
    const r = await post(`${proxy.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(502);
    expect(r.location).toBeNull();
    expect(r.body.error?.message).toBe("odd");
  });
});

describe("every upstream answer becomes a chat completion or a correct OpenAI error", () => {
  async function through(answer: Answer): Promise<Reply> {
    const base = await rawUpstream(() => answer);
    const policy = new OpenAIPolicy({ base_url: base, timeout: 30 });
    cleanups.push(() => policy.close());
    const proxy = await proxyWith({ policy, defaultSession: {} });
    return post(`${proxy.url}/v1/chat/completions`, chat);
  }

  it("status 999 is a 502 bad_upstream_status, not retried", async () => {
    const r = await through({ status: 999, json: { error: { message: "?" } } });
    expectOpenAIError(r, 502, "bad_upstream_status");
    expect(r.retry).toBe("false");
    expect(r.body.error?.message).toContain("status 999");
  });

  it("302 with a Location is a 502, never a redirect handed to the agent", async () => {
    const r = await through({ status: 302, status_headers: { location: "http://example.invalid/" } });
    expectOpenAIError(r, 502, "bad_upstream_status");
    expect(r.location).toBeNull();
  });

  it("304 is a 502 bad_upstream_status", async () => {
    expectOpenAIError(await through({ status: 304 }), 502, "bad_upstream_status");
  });

  it("logprobs.content [null] is a 502 bad_upstream_response, not a retryable 'unreachable'", async () => {
    const body = fakeAnswer({ messages: [{ role: "user", content: "x" }] }) as {
      choices: Array<Record<string, unknown>>;
    };
    (body.choices[0] as Record<string, unknown>).logprobs = { content: [null] };
    const r = await through({ status: 200, json: body });
    expectOpenAIError(r, 502, "bad_upstream_response");
    expect(r.retry).toBe("false");
  });

  it("a 200 that is not JSON or has no choices is a 502 bad_upstream_response", async () => {
    expectOpenAIError(await through({ status: 200, text: "<html>" }), 502, "bad_upstream_response");
    expectOpenAIError(await through({ status: 200, json: { choices: [] } }), 502, "bad_upstream_response");
  });

  it("401/403 from the upstream is the proxy's key failing: 502 upstream_auth_failed", async () => {
    const r = await through({ status: 401, json: { error: { message: "bad key", type: "auth" } } });
    expectOpenAIError(r, 502, "upstream_auth_failed");
    expectOpenAIError(await through({ status: 403, json: {} }), 502, "upstream_auth_failed");
  });

  it("an upstream 400 keeps its status and error; a 503 stays retryable", async () => {
    const r = await through({
      status: 400,
      json: {
        error: { message: "too long", type: "invalid_request_error", code: "context_length_exceeded" },
      },
    });
    expectOpenAIError(r, 400, "context_length_exceeded");
    expect(r.body.error?.message).toContain("too long");
    const busy = await through({ status: 503, json: { error: { message: "busy", code: "overloaded" } } });
    expectOpenAIError(busy, 503, "overloaded");
    expect(busy.retry).toBe("true");
  });
});

describe("sessions opened by their id are evicted when idle", () => {
  async function health(proxy: ModelProxy): Promise<number> {
    const r = await fetch(`${proxy.url}/health`);
    return ((await r.json()) as { sessions: number }).sessions;
  }

  it("1,500 throwaway ids leave at most max_sessions open, then none once idle", async () => {
    const proxy = await proxyWith({
      policy: echo,
      autoSessions: true,
      defaultSession: {},
      maxAutoSessions: 300,
      sessionIdleTimeoutS: 0.5,
    });
    const ids = Array.from({ length: 1500 }, (_, i) => `throwaway-${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      const batch = ids.slice(i, i + 100);
      const replies = await Promise.all(
        batch.map((id) => post(`${proxy.url}/sessions/${id}/v1/chat/completions`, chat)),
      );
      expect(replies.map((r) => r.status)).toEqual(batch.map(() => 200));
      expect(await health(proxy)).toBeLessThanOrEqual(301);
    }
    const deadline = Date.now() + 30_000;
    while ((await health(proxy)) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await health(proxy)).toBe(1);
    // The default session and the library's own sessions are never evicted.
    expect(proxy.defaultSession?.closed).toBe(false);
  });

  it("a session with a call in flight is never evicted; the cap then answers 503 too_many_sessions", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({
      policy: trainer,
      autoSessions: true,
      maxAutoSessions: 1,
      sessionIdleTimeoutS: 0.05,
    });
    const waiting = post(`${proxy.url}/sessions/busy/v1/chat/completions`, chat);
    const call = await trainer.getRequest({ timeoutMs: 30_000 });
    expect(call?.session_id).toBe("busy");
    const full = await post(`${proxy.url}/sessions/other/v1/chat/completions`, chat);
    expectOpenAIError(full, 503, "too_many_sessions");
    // Well past the idle timeout the busy session is still there.
    const until = Date.now() + 300;
    while (Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(proxy.getSession("busy")).toBeDefined();
    trainer.sendResponse(call?.request_id ?? "", { content: "done", finish_reason: "stop" });
    expect((await waiting).status).toBe(200);
    const deadline = Date.now() + 30_000;
    while (proxy.getSession("busy") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(proxy.getSession("busy")).toBeUndefined();
  });
});
