/**
 * API v1 of a real `swerex serve` (SQLite store, dummy and local backends) over real HTTP: every route's
 * status codes and bodies, auth and key isolation, idempotent creates, limits, lease expiry, restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import { api, newDataDir, type ServeProcess, startServe, testServiceId, until } from "./serve.js";

const K1 = "k1-secret-key-aaaaaaaaaaaa";
const K2 = "k2-secret-key-bbbbbbbbbbbb";
const SANDBOX_FIELDS = [
  "created_at",
  "deployment",
  "error",
  "expires_at",
  "id",
  "host",
  "metadata",
  "pool",
  "runtime_url",
  "started_at",
  "state",
  "stopped_at",
].sort();
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The store a suite runs on: the default SQLite file in the data directory, or a fresh PostgreSQL database. */
interface StoreUnderTest {
  kind: "sqlite" | "postgres";
  describe: typeof describe;
  database(): Promise<{ args: string[]; drop(): Promise<void> }>;
}

const STORES: StoreUnderTest[] = [
  { kind: "sqlite", describe, database: async () => ({ args: [], drop: async () => {} }) },
  {
    kind: "postgres",
    describe: describePostgres,
    database: async () => {
      const db = await tempPostgresDatabase();
      return { args: ["--database", db.url], drop: db.drop };
    },
  },
];

for (const store of STORES)
  store.describe(`swerex serve API v1 (dummy/local, ${store.kind})`, () => {
    let data: Awaited<ReturnType<typeof newDataDir>>;
    let db: Awaited<ReturnType<StoreUnderTest["database"]>>;
    let serve: ServeProcess;
    const serviceId = testServiceId();
    const start = () =>
      startServe({
        dataDir: data.dir,
        keys: [K1, K2],
        serviceId,
        args: ["--instances.deployment.type=dummy", "--max_ttl", "7200", ...db.args],
      });
    const call = (method: string, path: string, opts: Parameters<typeof api>[3] = {}) =>
      api(serve.url, method, path, { key: K1, ...opts });

    beforeAll(async () => {
      data = await newDataDir();
      db = await store.database();
      serve = await start();
    }, 120_000);
    afterAll(async () => {
      await serve?.stop();
      await data?.remove();
      await db?.drop();
    });

    it("answers /healthz, /readyz and /openapi.json without a key", async () => {
      expect(await api(serve.url, "GET", "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
      expect(await api(serve.url, "GET", "/readyz")).toMatchObject({
        status: 200,
        body: { status: "ok", store: store.kind },
      });
      const doc = await api(serve.url, "GET", "/openapi.json");
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toBe("3.0.3");
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining([
          "/v1/sandboxes",
          "/v1/sandboxes/{id}",
          "/v1/sandboxes/{id}/lease",
          "/v1/sandboxes/{id}/pause",
          "/v1/sandboxes/{id}/resume",
          "/v1/sandboxes/{id}/runtime/{endpoint}",
        ]),
      );
      expect(Object.keys(doc.body.components.schemas.Sandbox.properties).sort()).toEqual(
        [...SANDBOX_FIELDS, "queue_position"].sort(),
      );
      expect(doc.body.components.schemas.CreateSandbox.properties.wait.default).toBe(true);
    });

    it("rejects requests without a key or with an unknown one (401 JSON), on every /v1 route", async () => {
      for (const [method, path] of [
        ["GET", "/v1/sandboxes"],
        ["POST", "/v1/sandboxes"],
        ["GET", "/v1/sandboxes/sbx-aaaaaaaaaaaaaaaaaaaa"],
        ["DELETE", "/v1/sandboxes/sbx-aaaaaaaaaaaaaaaaaaaa"],
        ["POST", "/v1/sandboxes/sbx-aaaaaaaaaaaaaaaaaaaa/lease"],
        ["POST", "/v1/sandboxes/sbx-aaaaaaaaaaaaaaaaaaaa/pause"],
        ["POST", "/v1/sandboxes/sbx-aaaaaaaaaaaaaaaaaaaa/resume"],
      ] as const) {
        const none = await api(serve.url, method, path);
        expect(none.status, `${method} ${path}`).toBe(401);
        expect(none.body.error.code).toBe("unauthorized");
        const wrong = await api(serve.url, method, path, { key: `${K1}x` });
        expect(wrong.status).toBe(401);
        expect(wrong.body).toEqual({ error: { code: "unauthorized", message: "unknown API key" } });
      }
      const bearer = await api(serve.url, "GET", "/v1/sandboxes", {
        headers: { authorization: `Bearer ${K2}` },
      });
      expect(bearer.status).toBe(200);
    });

    it("creates a running sandbox (201) with exactly the documented fields", async () => {
      const before = Date.now();
      const res = await call("POST", "/v1/sandboxes", { body: { metadata: { run: "create" }, ttl: 600 } });
      expect(res.status).toBe(201);
      const sbx = res.body;
      expect(Object.keys(sbx).sort()).toEqual(SANDBOX_FIELDS);
      expect(sbx.id).toMatch(/^sbx-[a-z2-7]{20}$/);
      expect(sbx.state).toBe("running");
      expect(sbx.deployment).toEqual({ type: "dummy" });
      expect(sbx.metadata).toEqual({ run: "create" });
      expect(sbx.created_at).toMatch(ISO);
      expect(sbx.started_at).toMatch(ISO);
      expect(sbx.stopped_at).toBeNull();
      expect(sbx.error).toBeNull();
      expect(Date.parse(sbx.expires_at) - Date.parse(sbx.created_at)).toBe(600_000);
      expect(Date.parse(sbx.created_at)).toBeGreaterThanOrEqual(before - 1000);
      expect(sbx.runtime_url).toBe(`${serve.url}/v1/sandboxes/${sbx.id}/runtime`);
      // Default lease: --default_ttl 3600.
      const plain = await call("POST", "/v1/sandboxes");
      expect(plain.status).toBe(201);
      expect(Date.parse(plain.body.expires_at) - Date.parse(plain.body.created_at)).toBe(3_600_000);
    });

    it("answers 202 while starting with wait: false, then the sandbox becomes running", async () => {
      const res = await call("POST", "/v1/sandboxes", {
        body: { wait: false, deployment: { type: "local" } },
      });
      expect(res.status).toBe(202);
      expect(res.body.state).toBe("starting");
      expect(res.body.started_at).toBeNull();
      const running = await until(
        "the local sandbox to run",
        async () => {
          const g = await call("GET", `/v1/sandboxes/${res.body.id}`);
          return g.body.state === "running" ? g.body : undefined;
        },
        60_000,
      );
      expect(running.deployment).toEqual({ type: "local" });
      expect((await call("DELETE", `/v1/sandboxes/${res.body.id}`)).body.state).toBe("stopped");
    }, 90_000);

    it("gets a sandbox; another key's and unknown ids are 404", async () => {
      const { body: sbx } = await call("POST", "/v1/sandboxes");
      const got = await call("GET", `/v1/sandboxes/${sbx.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(sbx);
      const other = await api(serve.url, "GET", `/v1/sandboxes/${sbx.id}`, { key: K2 });
      expect(other.status).toBe(404);
      expect(other.body).toEqual({ error: { code: "not_found", message: `no sandbox ${sbx.id}` } });
      expect((await call("GET", "/v1/sandboxes/sbx-unknownunknownunkn")).status).toBe(404);
      for (const op of ["lease", "pause", "resume"]) {
        expect(
          (await api(serve.url, "POST", `/v1/sandboxes/${sbx.id}/${op}`, { key: K2, body: { ttl: 5 } }))
            .status,
        ).toBe(404);
      }
      expect((await api(serve.url, "DELETE", `/v1/sandboxes/${sbx.id}`, { key: K2 })).status).toBe(404);
      expect((await call("GET", `/v1/sandboxes/${sbx.id}`)).body.state).toBe("running");
    });

    it("lists only the key's own sandboxes, filtered by state and metadata, in pages", async () => {
      const tag = `list-${Date.now()}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await call("POST", "/v1/sandboxes", { body: { metadata: { tag, i: String(i % 2) } } });
        ids.push(r.body.id);
      }
      await api(serve.url, "POST", "/v1/sandboxes", { key: K2, body: { metadata: { tag } } });
      await call("DELETE", `/v1/sandboxes/${ids[0]}`);

      const all = await call("GET", `/v1/sandboxes?metadata.tag=${tag}`);
      expect(all.status).toBe(200);
      expect(all.body.items.map((s: { id: string }) => s.id)).toEqual(ids);
      expect(all.body.next_cursor).toBeNull();

      const odd = await call("GET", `/v1/sandboxes?metadata.tag=${tag}&metadata.i=1`);
      expect(odd.body.items.map((s: { id: string }) => s.id)).toEqual([ids[1], ids[3]]);
      const running = await call("GET", `/v1/sandboxes?metadata.tag=${tag}&state=running`);
      expect(running.body.items.map((s: { id: string }) => s.id)).toEqual(ids.slice(1));
      const both = await call("GET", `/v1/sandboxes?metadata.tag=${tag}&state=stopped,running`);
      expect(both.body.items).toHaveLength(5);
      const repeated = await call("GET", `/v1/sandboxes?metadata.tag=${tag}&state=stopped&state=failed`);
      expect(repeated.body.items.map((s: { id: string }) => s.id)).toEqual([ids[0]]);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/v1/sandboxes?metadata.tag=${tag}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const page = await call("GET", q);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.items.map((s: { id: string }) => s.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(ids);
    });

    it("rejects bad list queries with 422 naming the parameter", async () => {
      const cases: [string, string][] = [
        ["?state=sleeping", "state"],
        ["?limit=0", "limit"],
        ["?limit=abc", "limit"],
        ["?limit=1001", "limit"],
        ["?cursor=not-a-cursor", "cursor"],
        ["?colour=red", "colour"],
      ];
      for (const [q, field] of cases) {
        const r = await call("GET", `/v1/sandboxes${q}`);
        expect(r.status, q).toBe(422);
        expect(r.body.error.code).toBe("invalid_request");
        expect(r.body.error.issues[0].field, q).toBe(field);
      }
    });

    it("extends a lease; ttl above --max_ttl is 422; a stopped sandbox's lease is 409", async () => {
      const { body: sbx } = await call("POST", "/v1/sandboxes", { body: { ttl: 60 } });
      const t0 = Date.now();
      const leased = await call("POST", `/v1/sandboxes/${sbx.id}/lease`, { body: { ttl: 1800 } });
      expect(leased.status).toBe(200);
      const expires = Date.parse(leased.body.expires_at);
      expect(expires).toBeGreaterThanOrEqual(t0 + 1_800_000 - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 1_800_000 + 1000);
      const tooLong = await call("POST", `/v1/sandboxes/${sbx.id}/lease`, { body: { ttl: 7201 } });
      expect(tooLong.status).toBe(422);
      expect(tooLong.body.error.issues).toEqual([
        { field: "ttl", message: "at most 7200 (max_ttl), got 7201" },
      ]);
      for (const body of [{}, { ttl: -1 }, { ttl: "10" }, { ttl: 10, extra: 1 }]) {
        const bad = await call("POST", `/v1/sandboxes/${sbx.id}/lease`, { body });
        expect(bad.status, JSON.stringify(body)).toBe(422);
      }
      const createTooLong = await call("POST", "/v1/sandboxes", { body: { ttl: 7201 } });
      expect(createTooLong.status).toBe(422);
      expect(createTooLong.body.error.issues[0].field).toBe("ttl");
      await call("DELETE", `/v1/sandboxes/${sbx.id}`);
      const late = await call("POST", `/v1/sandboxes/${sbx.id}/lease`, { body: { ttl: 60 } });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe("conflict");
    });

    it("answers 409 to pause and resume on backends that cannot pause", async () => {
      const { body: sbx } = await call("POST", "/v1/sandboxes");
      for (const op of ["pause", "resume"]) {
        const r = await call("POST", `/v1/sandboxes/${sbx.id}/${op}`);
        expect(r.status).toBe(409);
        expect(r.body).toEqual({
          error: {
            code: "conflict",
            message: "dummy sandboxes cannot be paused or resumed (only tencentags sandboxes can)",
          },
        });
      }
      expect((await call("GET", `/v1/sandboxes/${sbx.id}`)).body.state).toBe("running");
    });

    it("deletes: 200 with the stopped record, the same record again on a second DELETE", async () => {
      const { body: sbx } = await call("POST", "/v1/sandboxes");
      const del = await call("DELETE", `/v1/sandboxes/${sbx.id}`);
      expect(del.status).toBe(200);
      expect(del.body.state).toBe("stopped");
      expect(del.body.stopped_at).toMatch(ISO);
      expect(del.body.id).toBe(sbx.id);
      const again = await call("DELETE", `/v1/sandboxes/${sbx.id}`);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(del.body);
      expect((await call("DELETE", "/v1/sandboxes/sbx-neverneverneverneve")).status).toBe(404);
    });

    it("rejects invalid deployments with 422 and the CLI's field-naming messages", async () => {
      const cases: [unknown, { field: string; message: string }[]][] = [
        [
          { type: "docker", pull: "sometimes" },
          [{ field: "deployment.pull", message: 'expected one of never|always|missing, got "sometimes"' }],
        ],
        [
          { type: "dummy", image: "x" },
          [
            {
              field: "deployment.image",
              message: 'unknown key for deployment type "dummy"; accepted keys: type',
            },
          ],
        ],
        [
          { type: "kubernetes" },
          [
            {
              field: "deployment.type",
              message: 'expected one of local|remote|dummy|docker|tencentags, got "kubernetes"',
            },
          ],
        ],
        [
          { type: "remote", auth_token: "x" },
          [
            {
              field: "deployment.type",
              message: 'this service does not run "remote" sandboxes; it runs docker|local|dummy',
            },
          ],
        ],
      ];
      for (const [deployment, issues] of cases) {
        const r = await call("POST", "/v1/sandboxes", { body: { deployment } });
        expect(r.status, JSON.stringify(deployment)).toBe(422);
        expect(r.body.error.issues).toEqual(issues);
      }
      for (const body of [
        { metadata: { k: 1 } },
        { wait: "yes" },
        { ttl: 0 },
        { unknown: true },
        { deployment: "docker" },
        [],
      ]) {
        const r = await call("POST", "/v1/sandboxes", { body });
        expect(r.status, JSON.stringify(body)).toBe(422);
        expect(r.body.error.code).toBe("invalid_request");
      }
    });

    it("answers 413 to an oversized body and 400 to malformed JSON, and keeps serving", async () => {
      const big = await call("POST", "/v1/sandboxes", {
        body: { metadata: { big: "x".repeat(2 * 1024 * 1024) } },
      });
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe("body_too_large");
      const bad = await call("POST", "/v1/sandboxes", { body: "{not json" });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe("invalid_request");
      expect((await api(serve.url, "GET", "/healthz")).status).toBe(200);
    });

    it("makes one sandbox per Idempotency-Key, also for concurrent retries; another body is 422", async () => {
      const key = `idem-${Date.now()}`;
      const body = { metadata: { idem: key } };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          call("POST", "/v1/sandboxes", { body, headers: { "idempotency-key": key } }),
        ),
      );
      const ids = new Set(answers.map((a) => a.body.id));
      expect(ids.size).toBe(1);
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
      const listed = await call("GET", `/v1/sandboxes?metadata.idem=${key}`);
      expect(listed.body.items).toHaveLength(1);
      const other = await call("POST", "/v1/sandboxes", {
        body: { metadata: { idem: "changed" } },
        headers: { "idempotency-key": key },
      });
      expect(other.status).toBe(422);
      expect(other.body.error.issues[0].field).toBe("Idempotency-Key");
      // Keys are per API key: K2's same key makes K2's own sandbox.
      const k2 = await api(serve.url, "POST", "/v1/sandboxes", {
        key: K2,
        body,
        headers: { "idempotency-key": key },
      });
      expect(k2.status).toBe(201);
      expect(k2.body.id).not.toBe(answers[0]?.body.id);
    });

    it("reaps a sandbox within 5 s of its lease's expiry", async () => {
      const { body: sbx } = await call("POST", "/v1/sandboxes", { body: { ttl: 1 } });
      expect(sbx.state).toBe("running");
      const stopped = await until("the reaper", async () => {
        const g = await call("GET", `/v1/sandboxes/${sbx.id}`);
        return g.body.state === "stopped" ? g.body : undefined;
      });
      expect(Date.parse(stopped.stopped_at) - Date.parse(stopped.expires_at)).toBeLessThanOrEqual(5000);
      const metrics = await api(serve.url, "GET", "/metrics");
      expect(metrics.text).toMatch(/swerex_reaper_actions_total\{action="expired"\} [1-9]/);
    });

    it("reports metrics by state and backend, request route and status", async () => {
      const m = await api(serve.url, "GET", "/metrics");
      expect(m.status).toBe(200);
      expect(m.text).toMatch(/swerex_sandboxes\{state="running",backend="dummy"\} [1-9]/);
      expect(m.text).toMatch(/swerex_sandboxes\{state="stopped",backend="dummy"\} [1-9]/);
      expect(m.text).toMatch(
        /swerex_api_requests_total\{route="\/v1\/sandboxes",method="POST",status="201"\} [1-9]/,
      );
      expect(m.text).toMatch(
        /swerex_api_requests_total\{route="\/v1\/sandboxes\/:id",method="GET",status="404"\} [1-9]/,
      );
      expect(m.text).toMatch(/swerex_sandbox_start_duration_seconds_count\{backend="dummy"\} [1-9]/);
    });

    it("keeps every record across a restart; running sandboxes are adopted; idempotent retries still match", async () => {
      const key = `restart-${Date.now()}`;
      const created = await call("POST", "/v1/sandboxes", {
        body: { metadata: { r: key } },
        headers: { "idempotency-key": key },
      });
      const before = await call("GET", "/v1/sandboxes?limit=1000");
      expect(await serve.stop("SIGTERM")).toBe(143);
      serve = await start();
      const after = await call("GET", "/v1/sandboxes?limit=1000");
      expect(after.body.items.map((s: { id: string; state: string }) => [s.id, s.state])).toEqual(
        before.body.items.map((s: { id: string; state: string }) => [s.id, s.state]),
      );
      const retry = await call("POST", "/v1/sandboxes", {
        body: { metadata: { r: key } },
        headers: { "idempotency-key": key },
      });
      expect(retry.status).toBe(201);
      expect(retry.body.id).toBe(created.body.id);
      const alive = await call("GET", `/v1/sandboxes/${created.body.id}/runtime/is_alive`);
      expect(alive).toMatchObject({ status: 200, body: { is_alive: true, message: "" } });
    }, 120_000);

    it("never prints an API key, in answers or in its log", () => {
      expect(serve.output()).not.toContain(K1);
      expect(serve.output()).not.toContain(K2);
      expect(serve.output()).toContain("swerex serve listening on");
    });
  });

describe("swerex serve limits", () => {
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess;
  beforeAll(async () => {
    data = await newDataDir();
    serve = await startServe({
      dataDir: data.dir,
      keys: [K1, K2, "k3-key"],
      serviceId: testServiceId(),
      args: ["--instances.deployment.type=dummy", "--max_sandboxes", "2", "--max_sandboxes_per_key", "1"],
    });
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    await data?.remove();
  });

  it("answers 429 with Retry-After over the per-key and the total limit, and admits again after a DELETE", async () => {
    const a = await api(serve.url, "POST", "/v1/sandboxes", { key: K1 });
    expect(a.status).toBe(201);
    const perKey = await api(serve.url, "POST", "/v1/sandboxes", { key: K1 });
    expect(perKey.status).toBe(429);
    expect(perKey.headers.get("retry-after")).toBe("5");
    expect(perKey.body.error.code).toBe("limit_exceeded");
    expect(perKey.body.error.message).toContain("max_sandboxes_per_key=1");
    expect((await api(serve.url, "POST", "/v1/sandboxes", { key: K2 })).status).toBe(201);
    const total = await api(serve.url, "POST", "/v1/sandboxes", { key: "k3-key" });
    expect(total.status).toBe(429);
    expect(total.body.error.message).toContain("max_sandboxes=2");
    await api(serve.url, "DELETE", `/v1/sandboxes/${a.body.id}`, { key: K1 });
    expect((await api(serve.url, "POST", "/v1/sandboxes", { key: "k3-key" })).status).toBe(201);
  });

  it("does not let concurrent creates overshoot the limit", async () => {
    for (const key of [K1, K2, "k3-key"]) {
      const mine = await api(serve.url, "GET", "/v1/sandboxes?state=running", { key });
      for (const s of mine.body.items) await api(serve.url, "DELETE", `/v1/sandboxes/${s.id}`, { key });
    }
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => api(serve.url, "POST", "/v1/sandboxes", { key: K1 })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 429, 429, 429, 429]);
    const list = await api(serve.url, "GET", "/v1/sandboxes?state=running", { key: K1 });
    expect(list.body.items).toHaveLength(1);
  });
});
