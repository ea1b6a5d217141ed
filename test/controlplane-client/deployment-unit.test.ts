/**
 * The controlplane deployment and its API client against undici's MockAgent: the request shapes (key,
 * Idempotency-Key, body) and the error paths a real service makes hard to provoke (503 and 429 retries, an
 * abort while the create is in flight, a start timeout, a failed sandbox). Real-service tests are in
 * deployment.test.ts.
 */
import { MockAgent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/index.js";
import { errorDetail } from "../../src/deployment/controlplane/client.js";
import {
  ControlPlaneApiError,
  ControlPlaneClient,
  ControlPlaneDeployment,
  type ControlPlaneDeploymentConfigInput,
  getDeployment,
  parseDeploymentConfig,
} from "../../src/deployment/index.js";
import { DeploymentStartupError, PythonTimeoutError } from "../../src/runtime/errors.js";

const URL_ = "http://cp.test";
const KEY = "sk-unit-secret-4711";

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

let mock: MockAgent | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

/** A MockAgent that records every request; `route` answers by method and path (then falls through to 404). */
function service(
  route: (req: Seen, n: number) => { status: number; body?: unknown; headers?: Record<string, string> },
) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  mock = agent;
  const seen: Seen[] = [];
  agent
    .get(URL_)
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      const headers = Object.fromEntries(
        Object.entries((opts.headers ?? {}) as Record<string, string>).map(([k, v]) => [
          k.toLowerCase(),
          String(v),
        ]),
      );
      const req: Seen = {
        method: opts.method,
        path: opts.path,
        headers,
        body: typeof opts.body === "string" && opts.body !== "" ? JSON.parse(opts.body) : undefined,
      };
      seen.push(req);
      const r = route(req, seen.length);
      return {
        statusCode: r.status,
        data: r.body === undefined ? "" : JSON.stringify(r.body),
        responseOptions: { headers: { "content-type": "application/json", ...r.headers } },
      };
    })
    .persist();
  return { agent, seen };
}

function sandbox(state: string, extra: Record<string, unknown> = {}) {
  return {
    id: "sbx-unit1",
    state,
    deployment: { type: "dummy" },
    metadata: {},
    created_at: "2026-11-30T07:00:00.000Z",
    started_at: null,
    stopped_at: null,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    error: null,
    ...extra,
  };
}

function deployment(agent: MockAgent, config: ControlPlaneDeploymentConfigInput = {}) {
  return new ControlPlaneDeployment(
    { url: URL_, api_key: KEY, deployment: { type: "dummy" }, ...config },
    { dispatcher: agent, env: {} },
  );
}

describe("controlplane deployment config", () => {
  it("is a member of the deployment union with its defaults", () => {
    const c = parseDeploymentConfig({ type: "controlplane", url: "http://h:8080" });
    expect(c).toEqual({
      type: "controlplane",
      url: "http://h:8080",
      api_key: "",
      deployment: {},
      ttl: null,
      metadata: {},
      startup_timeout: 600,
      lease_renewal: null,
      runtime_timeout: 60,
      request_timeout: 60,
    });
  });

  it("takes flag-typed values: numbers as metadata strings, a nested backend config as is", () => {
    const c = parseDeploymentConfig({
      type: "controlplane",
      url: "http://h",
      api_key: 12345,
      ttl: "120",
      metadata: { run: 7, ok: true },
      deployment: { type: "docker", image: "busybox", port: 8000 },
    });
    expect(c).toMatchObject({
      api_key: "12345",
      ttl: 120,
      metadata: { run: "7", ok: "true" },
      deployment: { type: "docker", image: "busybox", port: 8000 },
    });
  });

  it("names the bad field: a url without scheme, an unknown key", () => {
    expect(() => parseDeploymentConfig({ type: "controlplane", url: "h:8080" })).toThrow(
      /url: must start with http:\/\/ or https:\/\//,
    );
    expect(() => parseDeploymentConfig({ type: "controlplane", urll: "http://h" })).toThrow(
      /urll: unknown key/,
    );
  });

  it("needs a url from the config or SWEREX_URL; SWEREX_API_KEY fills in an empty key, a configured one wins", () => {
    expect(() => new ControlPlaneDeployment({}, { env: {} })).toThrow(ConfigError);
    expect(() => new ControlPlaneDeployment({}, { env: {} })).toThrow(/url: required .*SWEREX_URL/);
    expect(getDeployment({ type: "controlplane", url: "http://h" })).toBeInstanceOf(ControlPlaneDeployment);
  });
});

describe("ControlPlaneDeployment against a mocked service", () => {
  it("creates with the key, an Idempotency-Key and wait:false, polls until running, and deletes on stop", async () => {
    let gets = 0;
    const { agent, seen } = service((req) => {
      if (req.method === "POST" && req.path === "/v1/sandboxes")
        return { status: 202, body: sandbox("starting") };
      if (req.method === "GET") return { status: 200, body: sandbox(++gets < 3 ? "starting" : "running") };
      if (req.method === "DELETE") return { status: 200, body: sandbox("stopped") };
      return { status: 404, body: { error: { message: "no route" } } };
    });
    const d = deployment(agent, { ttl: 120, metadata: { run: "a" }, lease_renewal: 0 });
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    expect(d.sandboxId).toBe("sbx-unit1");
    const post = seen[0] as Seen;
    expect(post.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(post.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(post.body).toEqual({
      deployment: { type: "dummy" },
      metadata: { run: "a" },
      wait: false,
      ttl: 120,
    });
    expect(seen.filter((r) => r.method === "GET").map((r) => r.path)).toEqual([
      "/v1/sandboxes/sbx-unit1",
      "/v1/sandboxes/sbx-unit1",
      "/v1/sandboxes/sbx-unit1",
    ]);
    expect(steps).toEqual(["Creating sandbox", "Waiting for sandbox", "Sandbox running"]);
    expect((d.runtime as unknown as { apiUrl: string }).apiUrl).toBe(
      `${URL_}/v1/sandboxes/sbx-unit1/runtime`,
    );

    await d.stop();
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/sandboxes/sbx-unit1" });
    const n = seen.length;
    await d.stop();
    expect(seen.length).toBe(n);
    expect(() => d.runtime).toThrow(/not started/);
  });

  it("retries a create that got 503 with the same Idempotency-Key", async () => {
    const { agent, seen } = service((req, n) => {
      if (req.method === "POST")
        return n === 1
          ? { status: 503, body: { error: { message: "busy" } } }
          : { status: 201, body: sandbox("running") };
      return { status: 200, body: sandbox("stopped") };
    });
    const d = deployment(agent, { lease_renewal: 0 });
    await d.start();
    const posts = seen.filter((r) => r.method === "POST");
    expect(posts.length).toBe(2);
    expect(posts[0]?.headers["idempotency-key"]).toBe(posts[1]?.headers["idempotency-key"]);
    // 201: already running, no polling.
    expect(seen.some((r) => r.method === "GET")).toBe(false);
    await d.stop();
  });

  it("asks again after Retry-After when the service is full (429)", async () => {
    const { agent, seen } = service((req, n) => {
      if (req.method === "POST")
        return n === 1
          ? {
              status: 429,
              body: { error: { message: "max_sandboxes reached" } },
              headers: { "retry-after": "0" },
            }
          : { status: 201, body: sandbox("running") };
      return { status: 200, body: sandbox("stopped") };
    });
    const d = deployment(agent, { lease_renewal: 0 });
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    expect(seen.filter((r) => r.method === "POST").length).toBe(2);
    expect(steps).toContain("Service is full (max_sandboxes reached); asking again in 0s");
    await d.stop();
  });

  it("a sandbox that failed to start fails the start with its error, deletes it, and leaves nothing registered", async () => {
    const { agent, seen } = service((req) => {
      if (req.method === "POST") return { status: 202, body: sandbox("starting") };
      if (req.method === "GET")
        return {
          status: 200,
          body: sandbox("failed", { error: { class: "DockerPullError", message: "no such image" } }),
        };
      return { status: 200, body: sandbox("stopped") };
    });
    const d = deployment(agent);
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeploymentStartupError);
    expect((err as Error).message).toBe(
      "Sandbox sbx-unit1 is failed, not running: DockerPullError: no such image",
    );
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/sandboxes/sbx-unit1" });
    expect(d.sandboxId).toBeUndefined();
  });

  it("a 4xx from the service fails the start with its status and message, never the key", async () => {
    const { agent } = service(() => ({
      status: 422,
      body: { error: { message: 'deployment.pull: expected one of never|always|missing, got "sometimes"' } },
    }));
    const err = await deployment(agent)
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlPlaneApiError);
    expect((err as ControlPlaneApiError).status).toBe(422);
    expect((err as Error).message).toBe(
      `POST ${URL_}/v1/sandboxes: HTTP 422: deployment.pull: expected one of never|always|missing, got "sometimes"`,
    );
    expect(JSON.stringify(err)).not.toContain(KEY);
    expect(String((err as Error).stack)).not.toContain(KEY);
  });

  it("times out after startup_timeout and deletes the sandbox", async () => {
    const { agent, seen } = service((req) => {
      if (req.method === "DELETE") return { status: 200, body: sandbox("stopped") };
      return { status: req.method === "POST" ? 202 : 200, body: sandbox("starting") };
    });
    const err = await deployment(agent, { startup_timeout: 0.3 })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonTimeoutError);
    expect((err as Error).message).toMatch(
      /^Sandbox sbx-unit1 did not reach running within 0.3s \(last state: starting\)/,
    );
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/sandboxes/sbx-unit1" });
  });

  it("an abort while the create is in flight learns the id with the same key and deletes it", async () => {
    const controller = new AbortController();
    let posts = 0;
    const { agent, seen } = service((req) => {
      if (req.method === "POST") {
        posts += 1;
        // The first create "reaches the service" and the client aborts before the answer arrives.
        if (posts === 1) controller.abort(new Error("user pressed Ctrl-C"));
        return { status: 202, body: sandbox("starting") };
      }
      return { status: 200, body: sandbox("stopped") };
    });
    const err = await deployment(agent)
      .start({ signal: controller.signal })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe("user pressed Ctrl-C");
    const posted = seen.filter((r) => r.method === "POST");
    expect(posted.length).toBe(2);
    expect(posted[0]?.headers["idempotency-key"]).toBe(posted[1]?.headers["idempotency-key"]);
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/sandboxes/sbx-unit1" });
  });

  it("stop() during start aborts the wait and deletes the sandbox", async () => {
    const { agent, seen } = service((req) => {
      if (req.method === "DELETE") return { status: 200, body: sandbox("stopped") };
      return { status: req.method === "POST" ? 202 : 200, body: sandbox("starting") };
    });
    const d = deployment(agent);
    const starting = d.start().catch((e: unknown) => e);
    const deadline = Date.now() + 10_000;
    while (!seen.some((r) => r.method === "GET") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    expect((await starting) as Error).toBeInstanceOf(DeploymentStartupError);
    expect(seen.filter((r) => r.method === "DELETE").length).toBe(1);
  });

  it("a 404 on DELETE (already gone) is a successful stop", async () => {
    const { agent } = service((req) => {
      if (req.method === "DELETE")
        return { status: 404, body: { error: { message: "no sandbox sbx-unit1" } } };
      return { status: 201, body: sandbox("running") };
    });
    const d = deployment(agent, { lease_renewal: 0 });
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    await expect(d.stop()).resolves.toBeUndefined();
    expect(steps.some((s) => s.startsWith("Could not delete"))).toBe(false);
  });

  it("renews the lease with the configured ttl while started, and stops renewing on stop", async () => {
    const { agent, seen } = service((req) => {
      if (req.path.endsWith("/lease")) return { status: 200, body: sandbox("running") };
      if (req.method === "DELETE") return { status: 200, body: sandbox("stopped") };
      return { status: 201, body: sandbox("running") };
    });
    const d = deployment(agent, { ttl: 30, lease_renewal: 0.5 });
    await d.start();
    const leases = () => seen.filter((r) => r.path === "/v1/sandboxes/sbx-unit1/lease");
    const deadline = Date.now() + 20_000;
    while (leases().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(leases().length).toBeGreaterThanOrEqual(2);
    expect(leases()[0]?.body).toEqual({ ttl: 30 });
    await d.stop();
    const after = leases().length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(leases().length).toBe(after);
  });
});

describe("ControlPlaneClient", () => {
  it("lists with state, metadata and paging in the query string", async () => {
    const { agent, seen } = service(() => ({
      status: 200,
      body: { items: [sandbox("running")], next_cursor: "c2" },
    }));
    const client = new ControlPlaneClient({ url: `${URL_}/`, apiKey: KEY, dispatcher: agent });
    const page = await client.list({ state: "running", metadata: { run: "7" }, limit: 5, cursor: "c1" });
    expect(page.next_cursor).toBe("c2");
    expect(page.items.map((s) => s.id)).toEqual(["sbx-unit1"]);
    expect(seen[0]?.path).toBe("/v1/sandboxes?state=running&metadata.run=7&limit=5&cursor=c1");
  });

  it("reads the service's message from the usual error body shapes", () => {
    expect(errorDetail('{"error":{"code":"not_found","message":"no sandbox sbx-1"}}')).toBe(
      "no sandbox sbx-1",
    );
    expect(errorDetail('{"error":"unauthorized","message":"missing API key"}')).toBe("missing API key");
    expect(errorDetail('{"detail":"bad"}')).toBe("bad");
    expect(errorDetail("upstream down")).toBe("upstream down");
    expect(errorDetail("")).toBe("(empty body)");
  });
});
