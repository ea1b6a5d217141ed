/**
 * How calls find their session (path, `Authorization: Bearer <id>`, `x-session-id`, default session),
 * the seed's single-rollout form on 8080 with fallback to the next port, and the small routes.
 */
import { createServer, type Server } from "node:net";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import { startSingleRolloutProxy } from "../../../src/rollout/proxy/single-rollout.js";
import type { PolicyBackend } from "../../../src/rollout/types.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Answers with the session id and step, so a test sees where a call went. */
const whoami: PolicyBackend = {
  async complete(_req, ctx) {
    return { content: `${ctx.sessionId}#${ctx.step}`, finish_reason: "stop" };
  },
};

async function started(p: Promise<ModelProxy>): Promise<ModelProxy> {
  const proxy = await p;
  cleanups.push(() => proxy.close());
  return proxy;
}

async function ask(baseURL: string, apiKey = "x", headers: Record<string, string> = {}): Promise<string> {
  const c = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000, defaultHeaders: headers });
  const r = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
  return r.choices[0]?.message.content ?? "";
}

function occupy(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

function portOf(srv: Server | undefined): number {
  const addr = srv?.address();
  if (!addr || typeof addr === "string") throw new Error("could not bind a probe port");
  return addr.port;
}

function release(srv: Server | undefined): Promise<void> {
  return new Promise((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
}

describe("session routing", () => {
  it("routes by path, Bearer token and x-session-id, each session with its own steps", async () => {
    const proxy = await started(startModelProxy({ policy: whoami }));
    const a = proxy.openSession("alpha");
    const b = proxy.openSession("beta");
    expect(a.baseUrl).toBe(`${proxy.url}/sessions/alpha/v1`);
    expect(await ask(a.baseUrl)).toBe("alpha#0");
    expect(await ask(b.baseUrl)).toBe("beta#0");
    expect(await ask(`${proxy.url}/v1`, "alpha")).toBe("alpha#1");
    expect(await ask(`${proxy.url}/v1`, "whatever", { "x-session-id": "beta" })).toBe("beta#1");
    expect(a.records()).toHaveLength(2);
    expect(b.records()).toHaveLength(2);
  });

  it("accepts session ids containing '/' and characters that need encoding", async () => {
    const proxy = await started(startModelProxy({ policy: whoami }));
    const s = proxy.openSession("rollout/3/attempt 1");
    expect(s.baseUrl).toBe(`${proxy.url}/sessions/rollout%2F3%2Fattempt%201/v1`);
    expect(await ask(s.baseUrl)).toBe("rollout/3/attempt 1#0");
    expect(await ask(`${proxy.url}/sessions/rollout/3/attempt%201/v1`)).toBe("rollout/3/attempt 1#1");
  });

  it("an unknown session is a 404 session_not_found; a duplicate id is refused", async () => {
    const proxy = await started(startModelProxy({ policy: whoami }));
    proxy.openSession("one");
    expect(() => proxy.openSession("one")).toThrow(/already open/);
    const err = await ask(`${proxy.url}/sessions/two/v1`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("session_not_found");
    const noId = await ask(`${proxy.url}/v1`, "not-a-session").catch((e: unknown) => e);
    expect((noId as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
  });

  it("autoSessions opens a session on first use of its path", async () => {
    const proxy = await started(startModelProxy({ policy: whoami, autoSessions: true, maxSteps: 7 }));
    expect(await ask(`${proxy.url}/sessions/hand-started/v1`)).toBe("hand-started#0");
    expect(proxy.getSession("hand-started")?.maxSteps).toBe(7);
  });

  it("a policy factory gives each session its own backend", async () => {
    const made: string[] = [];
    const proxy = await started(
      startModelProxy({
        policy: (id) => {
          made.push(id);
          return { complete: async () => ({ content: `backend of ${id}`, finish_reason: "stop" }) };
        },
      }),
    );
    const s = proxy.openSession("x");
    expect(made).toEqual(["x"]);
    expect(await ask(s.baseUrl)).toBe("backend of x");
    const own = proxy.openSession("y", { policy: whoami });
    expect(made).toEqual(["x"]);
    expect(await ask(own.baseUrl)).toBe("y#0");
  });

  it("keepRecords: false keeps nothing in memory but still reports every call", async () => {
    const seen: string[] = [];
    const proxy = await started(
      startModelProxy({
        policy: whoami,
        keepRecords: false,
        onRecord: (r) => seen.push(`${r.session_id}#${r.step}`),
      }),
    );
    const s = proxy.openSession("lean");
    expect(await ask(s.baseUrl)).toBe("lean#0");
    expect(s.records()).toEqual([]);
    expect(seen).toEqual(["lean#0"]);
  });

  it("rejects malformed requests with a 400 naming the field", async () => {
    const proxy = await started(startModelProxy({ policy: whoami }));
    const s = proxy.openSession();
    const post = (body: string) =>
      fetch(`${s.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(30_000),
      });
    const noMessages = await post(JSON.stringify({ model: "m" }));
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as { error: { message: string } }).error.message).toMatch(/^messages:/);
    const n2 = await post(JSON.stringify({ messages: [], n: 2 }));
    expect(n2.status).toBe(400);
    const broken = await post("{not json");
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    // None of these reached the policy or used a step.
    expect(s.steps).toBe(0);
  });

  it("serves /health and /v1/models", async () => {
    const proxy = await started(startModelProxy({ policy: whoami, modelName: "qwen-rl" }));
    const s = proxy.openSession();
    const health = await fetch(`${proxy.url}/health`, { signal: AbortSignal.timeout(10_000) });
    expect(await health.json()).toEqual({ status: "ok", sessions: 1 });
    const c = new OpenAI({ baseURL: s.baseUrl, apiKey: "x", maxRetries: 0 });
    const models = await c.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["qwen-rl"]);
    const plain = await fetch(`${proxy.url}/v1/models`, { signal: AbortSignal.timeout(10_000) });
    expect(((await plain.json()) as { data: Array<{ id: string }> }).data[0]?.id).toBe("qwen-rl");
  });
});

describe("single-rollout form (the seed's port 8080 + fallback)", () => {
  it("takes basePort+1 when basePort is taken, and /v1 reaches the default session", async () => {
    // Find two free consecutive ports, then take the first one.
    let base = 0;
    let blocker: Server | undefined;
    for (let tries = 0; tries < 50 && !blocker; tries++) {
      const probe = await occupy(0);
      const port = portOf(probe);
      await release(probe);
      const next = await occupy(port + 1);
      if (!next) continue;
      await release(next);
      blocker = await occupy(port);
      base = port;
    }
    expect(blocker).toBeDefined();
    cleanups.push(() => release(blocker));
    const proxy = await started(startSingleRolloutProxy({ basePort: base, policy: whoami }));
    expect(proxy.port).toBe(base + 1);
    expect(proxy.defaultSession?.id).toBe("default");
    expect(await ask(`${proxy.url}/v1`)).toBe("default#0");
    expect(proxy.defaultSession?.records()).toHaveLength(1);
  });

  it("defaults to 8080 and falls back to 8081 when 8080 is taken", async () => {
    // Take 8080 ourselves (if another process already holds it, it is taken all the same).
    const blocker = await occupy(8080);
    cleanups.push(() => release(blocker));
    const free8081 = await occupy(8081);
    await release(free8081);
    const proxy = await started(
      startSingleRolloutProxy({ policy: whoami, session: { id: "seed", maxSteps: 2 } }),
    );
    if (free8081) expect(proxy.port).toBe(8081);
    else expect(proxy.port).toBeGreaterThan(8081);
    expect(proxy.url).toBe(`http://127.0.0.1:${proxy.port}`);
    expect(await ask(`${proxy.url}/v1`)).toBe("seed#0");
    expect(proxy.defaultSession?.maxSteps).toBe(2);
  });

  it("gives up with a clear error when every port in range is taken", async () => {
    const blocker = await occupy(0);
    cleanups.push(() => release(blocker));
    const port = portOf(blocker);
    await expect(
      startSingleRolloutProxy({ basePort: port, maxPortRetries: 0, policy: whoami }),
    ).rejects.toThrow(`no free port in ${port}..${port}`);
  });
});
