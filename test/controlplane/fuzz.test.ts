/**
 * Fuzzed bodies, queries and ids on every route of a real `swerex serve` (dummy backend, SQLite): never a
 * 5xx of the service's own (the pass-through may relay the sandbox's 511 exception envelope, which is the
 * protocol's answer to a failing runtime call), the process stays up, and the store still answers.
 * Bounded and reproducible: a seeded generator, a fixed number of cases per route.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, newDataDir, type ServeProcess, startServe, testServiceId } from "./serve.js";

const KEY = "fuzz-key-0123456789abcdef";
const CASES_PER_ROUTE = 40;

/** mulberry32: small, seeded, good enough to vary inputs reproducibly. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  "",
  "docker",
  "dummy",
  "local",
  "tencentags",
  "\u0000",
  "😀",
  "a".repeat(300),
  "../../etc",
  "%00",
  "sbx-",
  "__proto__",
  "constructor",
  "1e309",
  "true",
];
const KEYS = [
  "deployment",
  "ttl",
  "metadata",
  "wait",
  "type",
  "image",
  "pull",
  "env",
  "__proto__",
  "constructor",
  "session",
  "command",
  "timeout",
  "path",
  "content",
  "x".repeat(200),
];

function value(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 1, 1e308, -1e-308, 2 ** 53 + 1, 3.5, 86_401][Math.floor(r() * 8)];
    case 3:
    case 4:
    case 5:
      return STRINGS[Math.floor(r() * STRINGS.length)];
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--)
        o[KEYS[Math.floor(r() * KEYS.length)] as string] = value(r, depth + 1);
      return o;
    }
  }
}

/** A body as sent: mostly JSON of a random value, sometimes broken JSON or another content type. */
function body(r: () => number): { text: string; type: string } {
  const x = r();
  if (x < 0.1) return { text: '{"deployment": ', type: "application/json" };
  if (x < 0.15) return { text: "deployment=docker", type: "application/x-www-form-urlencoded" };
  if (x < 0.2) return { text: "\u0000\u0001\u0002", type: "text/plain" };
  return { text: JSON.stringify(value(r)), type: "application/json" };
}

describe("fuzzed requests to swerex serve", () => {
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess;
  let sandboxId: string;

  beforeAll(async () => {
    data = await newDataDir();
    serve = await startServe({
      dataDir: data.dir,
      keys: [KEY],
      serviceId: testServiceId(),
      args: ["--instances.deployment.type=dummy"],
    });
    sandboxId = (await api(serve.url, "POST", "/v1/sandboxes", { key: KEY })).body.id;
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    await data?.remove();
  });

  const routes: [string, (id: string) => string][] = [
    ["POST", () => "/v1/sandboxes"],
    ["POST", (id) => `/v1/sandboxes/${id}/lease`],
    ["POST", (id) => `/v1/sandboxes/${id}/pause`],
    ["POST", (id) => `/v1/sandboxes/${id}/resume`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/create_session`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/run_in_session`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/execute`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/read_file`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/write_file`],
    ["POST", (id) => `/v1/sandboxes/${id}/runtime/close_session`],
  ];

  it.each(routes.map(([m, p], i) => [m, p("{id}"), i] as const))(
    "%s %s",
    async (method, _path, index) => {
      const r = rng(1000 + index);
      const make = (routes[index] as [string, (id: string) => string])[1];
      for (let i = 0; i < CASES_PER_ROUTE; i++) {
        const b = body(r);
        const res = await api(serve.url, method, make(sandboxId), {
          key: KEY,
          body: b.text,
          headers: { "content-type": b.type, ...(r() < 0.2 ? { "idempotency-key": `fz-${i % 3}` } : {}) },
        });
        const relayed511 = res.status === 511 && "swerexception" in (res.body ?? {});
        expect(
          res.status < 500 || relayed511,
          `${method} ${b.text.slice(0, 100)} -> ${res.status} ${res.text.slice(0, 200)}`,
        ).toBe(true);
      }
    },
    120_000,
  );

  it("survives fuzzed ids and list queries", async () => {
    const r = rng(7);
    for (let i = 0; i < CASES_PER_ROUTE; i++) {
      const id = encodeURIComponent(String(value(r)));
      for (const [method, path] of [
        ["GET", `/v1/sandboxes/${id}`],
        ["DELETE", `/v1/sandboxes/${id}`],
        ["GET", `/v1/sandboxes/${id}/runtime/is_alive`],
        ["GET", `/v1/sandboxes?state=${id}&limit=${id}&cursor=${id}&metadata.${id}=${id}`],
      ] as const) {
        const res = await api(serve.url, method, path, { key: KEY });
        expect(res.status, `${method} ${path} -> ${res.text.slice(0, 200)}`).toBeLessThan(500);
      }
    }
    expect((await api(serve.url, "GET", "/readyz")).status).toBe(200);
    expect(serve.output()).not.toMatch(/unhandled error/);
  }, 120_000);
});
