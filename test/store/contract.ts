/**
 * The Store contract as one reusable suite: every implementation (SQLite file, PostgreSQL) must pass it.
 * Tests share one migrated database per suite and keep out of each other's way with their own owner,
 * ids, idempotency keys, duty and bucket names; nothing here depends on test order.
 *
 * Usage, from a `*.test.ts` file:
 *   defineStoreContract("SQLite file", async () => ({ store, replica, cleanup }));
 * `replica` is a second handle on the same database, as another service replica would hold (PostgreSQL);
 * where the database serves one process (SQLite), pass the same store.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appliedMigrations,
  InvalidCursorError,
  type KyselyStore,
  MIGRATIONS,
  type NewRollout,
  type NewSandbox,
  type SandboxRecord,
  type Store,
  StoreArgumentError,
} from "../../src/store/index.js";

export interface StoreUnderTest {
  store: Store;
  replica: Store;
  cleanup(): Promise<void>;
}

/** A short random token, so each test's rows are its own. */
export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** Asserts that every migration we ship is recorded as applied in `store`'s database, once. */
export async function expectFullyMigrated(store: Store): Promise<void> {
  expect(await appliedMigrations((store as KyselyStore).db)).toEqual(Object.keys(MIGRATIONS).sort());
}

export function newSandbox(overrides: Partial<NewSandbox> = {}): NewSandbox {
  return {
    id: uniq("sbx"),
    owner: "owner-a",
    state: "running",
    backend: "docker",
    deployment: { type: "docker", image: "busybox", nested: { list: [1, 2.5, "x", null, true] } },
    handle: { container_id: "c0ffee", port: 40123, token: "t0k3n" },
    metadata: {},
    pool: null,
    host: null,
    starter: "svc/host/123/life-a",
    error: null,
    created_at: 1_764_000_000_000,
    started_at: 1_764_000_000_500,
    stopped_at: null,
    expires_at: 1_764_000_360_000,
    ...overrides,
  };
}

export function newRollout(overrides: Partial<NewRollout> = {}): NewRollout {
  return {
    id: uniq("rol"),
    owner: "owner-a",
    state: "queued",
    request: { task: { id: "t1", repo: "org/repo" }, agent: { max_steps: 30 } },
    result: null,
    sandbox_id: null,
    metadata: {},
    error: null,
    created_at: 1_764_000_000_000,
    started_at: null,
    finished_at: null,
    ...overrides,
  };
}

/** Walks every page of `list` with `limit` per page; returns the ids in order and the page count. */
async function collectPages<T extends { id: string }>(
  list: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await list(cursor);
    pages++;
    ids.push(...page.items.map((i) => i.id));
    if (page.nextCursor === null) return { ids, pages };
    cursor = page.nextCursor;
    if (pages > 1000) throw new Error("pagination does not end");
  }
}

function byCreatedThenId(a: { created_at: number; id: string }, b: { created_at: number; id: string }) {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function defineStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`${name} (store contract)`, () => {
    let under: StoreUnderTest | undefined;
    const store = (): Store => {
      if (!under) throw new Error("store did not open");
      return under.store;
    };
    const replica = (): Store => {
      if (!under) throw new Error("store did not open");
      return under.replica;
    };

    beforeAll(async () => {
      under = await make();
    });
    afterAll(async () => {
      await under?.cleanup();
    });

    describe("migrations and health", () => {
      it("migrate() again is a no-op and every migration is recorded once", async () => {
        await store().migrate();
        await replica().migrate();
        await expectFullyMigrated(store());
      });

      it("ping() answers", async () => {
        await expect(store().ping()).resolves.toBeUndefined();
      });
    });

    describe("sandboxes", () => {
      it("insert returns the record at version 1 and get returns it exactly (JSON, nulls, epoch ms)", async () => {
        const rec = newSandbox({
          metadata: { "run.id": "r1", 'quote\'s "key"': "ü 💡" },
          error: { class: "DockerPullError", message: "no such image" },
          pool: "warm",
          host: "host-1",
          created_at: Date.now(),
        });
        const inserted = await store().insertSandbox(rec);
        expect(inserted).toEqual({ ...rec, version: 1 });
        expect(await store().getSandbox(rec.id)).toEqual({ ...rec, version: 1 });
        expect(await replica().getSandbox(rec.id)).toEqual({ ...rec, version: 1 });
        const got = await store().getSandbox(rec.id);
        expect(typeof got?.created_at).toBe("number");
        expect(typeof got?.version).toBe("number");
      });

      it("get of an unknown id is undefined; inserting an existing id fails and changes nothing", async () => {
        expect(await store().getSandbox("sbx-never")).toBeUndefined();
        const rec = newSandbox();
        await store().insertSandbox(rec);
        await expect(store().insertSandbox({ ...rec, state: "failed" })).rejects.toThrow();
        expect((await store().getSandbox(rec.id))?.state).toBe("running");
      });

      it("update applies the patch (JSON fields, nulls) and bumps the version by one each time", async () => {
        const rec = newSandbox({ state: "starting", started_at: null });
        await store().insertSandbox(rec);
        const a = await store().updateSandbox(rec.id, {
          state: "running",
          started_at: 1_764_000_001_000,
          handle: { container_id: "beef", port: 1 },
        });
        expect(a).toEqual({
          ...rec,
          state: "running",
          started_at: 1_764_000_001_000,
          handle: { container_id: "beef", port: 1 },
          version: 2,
        });
        const b = await store().updateSandbox(rec.id, {
          state: "lost",
          handle: null,
          error: { class: "SandboxLost", message: "container vanished" },
          expires_at: null,
          // undefined in a Partial means "leave as is"
          backend: undefined,
        });
        expect(b).toEqual({
          ...a,
          state: "lost",
          handle: null,
          error: { class: "SandboxLost", message: "container vanished" },
          expires_at: null,
          version: 3,
        });
        expect(await store().getSandbox(rec.id)).toEqual(b);
        const c = await store().updateSandbox(rec.id, {});
        expect(c?.version).toBe(4);
        expect(await store().updateSandbox("sbx-never", { state: "stopped" })).toBeUndefined();
      });

      it("compare-and-set: a stale version changes nothing; of racing writers exactly one wins", async () => {
        const rec = newSandbox();
        await store().insertSandbox(rec);
        expect(await store().updateSandbox(rec.id, { state: "paused" }, 2)).toBeUndefined();
        expect(await store().getSandbox(rec.id)).toEqual({ ...rec, version: 1 });
        expect(await store().updateSandbox("sbx-never", { state: "paused" }, 1)).toBeUndefined();

        const writers = Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? replica() : store()).updateSandbox(rec.id, { host: `host-${i}` }, 1),
        );
        const results = await Promise.all(writers);
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        const stored = await store().getSandbox(rec.id);
        expect(stored).toEqual(winners[0]);
        expect(stored?.version).toBe(2);
      });

      it("pages cover every match once, in (created_at, id) order, with filters on every page", async () => {
        const owner = uniq("owner");
        const recs: NewSandbox[] = [];
        for (let i = 0; i < 23; i++) {
          recs.push(
            newSandbox({
              owner,
              // Ties on created_at: the id decides the order within a millisecond.
              created_at: 1_764_000_000_000 + Math.floor(i / 3),
              state: i % 4 === 0 ? "stopped" : "running",
              metadata: { run: i % 2 === 0 ? "even" : "odd", step: String(i % 3) },
            }),
          );
        }
        // Inserted out of order: pages follow the data, not insertion order.
        for (const r of [...recs].reverse()) await store().insertSandbox(r);
        const sorted = [...recs].sort(byCreatedThenId);

        const all = await collectPages((cursor) => store().listSandboxes({ owner, limit: 5, cursor }));
        expect(all.ids).toEqual(sorted.map((r) => r.id));
        expect(all.pages).toBe(5);

        const filter = { owner, states: ["running" as const], metadata: { run: "even" } };
        const expected = sorted.filter((r) => r.state === "running" && r.metadata.run === "even");
        const filtered = await collectPages((cursor) =>
          replica().listSandboxes({ ...filter, limit: 2, cursor }),
        );
        expect(filtered.ids).toEqual(expected.map((r) => r.id));
        expect(expected.length).toBeGreaterThan(4);
        expect(await store().countSandboxes(filter)).toBe(expected.length);

        // An exact page boundary: the last full page says there is nothing more.
        const exact = await store().listSandboxes({ owner, limit: 23 });
        expect(exact.items).toHaveLength(23);
        expect(exact.nextCursor).toBeNull();
      });

      it("metadata filters match every key/value exactly and follow metadata updates", async () => {
        const owner = uniq("owner");
        const a = newSandbox({ owner, metadata: { "a.b": "1", k: "v" } });
        const b = newSandbox({ owner, metadata: { "a.b": "1", k: "V" } });
        const c = newSandbox({ owner, metadata: { a: "1" } });
        for (const r of [a, b, c]) await store().insertSandbox(r);
        const ids = async (metadata: Record<string, string>) =>
          (await store().listSandboxes({ owner, metadata })).items.map((r) => r.id).sort();

        expect(await ids({ "a.b": "1" })).toEqual([a.id, b.id].sort());
        expect(await ids({ "a.b": "1", k: "v" })).toEqual([a.id]);
        expect(await ids({ k: "v " })).toEqual([]);
        expect(await ids({ a: "1" })).toEqual([c.id]);
        expect(await ids({ missing: "" })).toEqual([]);
        expect(await ids({})).toEqual([a.id, b.id, c.id].sort());

        const updated = await store().updateSandbox(a.id, { metadata: { k: "w" } }, 1);
        expect(updated?.metadata).toEqual({ k: "w" });
        expect(await ids({ "a.b": "1" })).toEqual([b.id]);
        expect(await ids({ k: "w" })).toEqual([a.id]);
        // A failed compare-and-set leaves the metadata index alone.
        expect(await store().updateSandbox(a.id, { metadata: { k: "x" } }, 1)).toBeUndefined();
        expect(await ids({ k: "w" })).toEqual([a.id]);
        expect(await ids({ k: "x" })).toEqual([]);
        await store().updateSandbox(a.id, { metadata: {} });
        expect(await ids({ k: "w" })).toEqual([]);
        expect((await store().getSandbox(a.id))?.metadata).toEqual({});
      });

      it("filters by backend, pool (a name or null), host, states and lease expiry; counts agree", async () => {
        const owner = uniq("owner");
        const recs = [
          newSandbox({ owner, backend: "docker", pool: "p1", host: "h1", expires_at: 100 }),
          newSandbox({ owner, backend: "docker", pool: null, host: "h2", expires_at: 200 }),
          newSandbox({ owner, backend: "tencentags", pool: null, host: null, expires_at: null }),
          newSandbox({ owner, backend: "docker", pool: "p1", host: "h1", expires_at: 300, state: "stopped" }),
        ];
        for (const r of recs) await store().insertSandbox(r);
        const [r0, r1, r2, r3] = recs.map((r) => r.id);
        const ids = async (q: Parameters<Store["listSandboxes"]>[0]) => {
          const listed = (await store().listSandboxes({ owner, ...q })).items.map((r) => r.id);
          expect(await store().countSandboxes({ owner, ...q })).toBe(listed.length);
          return listed.sort();
        };
        expect(await ids({ backend: "docker" })).toEqual([r0, r1, r3].sort());
        expect(await ids({ pool: "p1" })).toEqual([r0, r3].sort());
        expect(await ids({ pool: null })).toEqual([r1, r2].sort());
        expect(await ids({ host: "h1", states: ["running"] })).toEqual([r0]);
        expect(await ids({ expiresBefore: 200 })).toEqual([r0, r1].sort());
        expect(await ids({ expiresBefore: 99 })).toEqual([]);
        expect(await ids({ states: ["running", "stopped"] })).toEqual([r0, r1, r2, r3].sort());
        expect(await ids({ states: [] })).toEqual([]);
        expect(await store().countSandboxes({ owner: uniq("nobody") })).toBe(0);
      });

      it("tallySandboxes counts per (state, backend) under the same filters", async () => {
        const owner = uniq("owner");
        const specs = [
          ["running", "docker"],
          ["running", "docker"],
          ["running", "tencentags"],
          ["stopped", "docker"],
          ["failed", "local"],
        ] as const;
        for (const [state, backend] of specs)
          await store().insertSandbox(newSandbox({ owner, state, backend }));
        expect(await store().tallySandboxes({ owner })).toEqual([
          { state: "failed", backend: "local", count: 1 },
          { state: "running", backend: "docker", count: 2 },
          { state: "running", backend: "tencentags", count: 1 },
          { state: "stopped", backend: "docker", count: 1 },
        ]);
        expect(await store().tallySandboxes({ owner, states: ["running"], backend: "docker" })).toEqual([
          { state: "running", backend: "docker", count: 2 },
        ]);
        expect(await store().tallySandboxes({ owner: uniq("nobody") })).toEqual([]);
      });

      it("claimSandbox: racing claimers (two replicas) each get a distinct record", async () => {
        const pool = uniq("pool");
        const ready = Array.from({ length: 6 }, (_, i) =>
          newSandbox({ pool, host: "spare", created_at: 9000 + i, metadata: { slot: String(i) } }),
        );
        for (const r of ready) await store().insertSandbox(r);
        // Records that do not match (handed out already; another state) are never claimed.
        await store().insertSandbox(newSandbox({ pool, host: "taken", created_at: 1 }));
        await store().insertSandbox(newSandbox({ pool, host: "spare", state: "stopped", created_at: 1 }));
        const q = { pool, states: ["running" as const], host: "spare" };
        // The patch makes a claimed record stop matching: that is what keeps claims distinct.
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? replica() : store()).claimSandbox(q, { host: `claimer-${i}` }),
          ),
        );
        const got = claims.filter((c) => c !== undefined);
        expect(got).toHaveLength(6);
        expect(got.map((c) => c.id).sort()).toEqual(ready.map((r) => r.id).sort());
        for (const c of got) {
          expect(c.version).toBe(2);
          expect(c.host).toMatch(/^claimer-\d$/);
          expect(await store().getSandbox(c.id)).toEqual(c);
        }
      });

      it("claimSandbox takes the oldest match first and moves metadata index rows with a patch", async () => {
        const pool = uniq("pool");
        for (const created_at of [30, 10, 20]) await store().insertSandbox(newSandbox({ pool, created_at }));
        const q = { pool, states: ["running" as const] };
        const first = await store().claimSandbox(q, { state: "paused", metadata: { by: "me" } });
        expect(first?.created_at).toBe(10);
        expect(first?.metadata).toEqual({ by: "me" });
        const mine = await store().listSandboxes({ pool, metadata: { by: "me" } });
        expect(mine.items.map((r) => r.id)).toEqual([first?.id]);
        // A hand-out moves the record to the claiming key: owner filters follow.
        const owner = uniq("owner");
        const handed = await store().claimSandbox(q, { state: "paused", owner });
        expect(handed?.created_at).toBe(20);
        expect((await store().listSandboxes({ owner })).items).toEqual([handed]);
        expect(await store().countSandboxes({ owner, states: ["paused"] })).toBe(1);
        // Metadata filters work in claims too (FOR UPDATE over the EXISTS subquery on PostgreSQL).
        expect(
          await store().claimSandbox({ ...q, metadata: { by: "me" } }, { state: "paused" }),
        ).toBeUndefined();
        await store().insertSandbox(newSandbox({ pool, created_at: 40, metadata: { tag: "x" } }));
        const tagged = await store().claimSandbox({ ...q, metadata: { tag: "x" } }, { state: "paused" });
        expect(tagged?.created_at).toBe(40);
        const last = await store().claimSandbox({ ...q, metadata: {} }, { state: "paused" });
        expect(last?.created_at).toBe(30);
        expect(await store().claimSandbox(q, { state: "paused" })).toBeUndefined();
      });

      it("a cursor the store did not make is InvalidCursorError; a bad limit is StoreArgumentError", async () => {
        for (const cursor of ["", "garbage!", Buffer.from('{"a":1}').toString("base64url"), "W10"]) {
          await expect(store().listSandboxes({ cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        }
        await expect(store().listSandboxes({ limit: 0 })).rejects.toBeInstanceOf(StoreArgumentError);
        await expect(store().listRollouts({ cursor: "x" })).rejects.toBeInstanceOf(InvalidCursorError);
      });
    });

    describe("idempotency keys", () => {
      it("of many concurrent puts for one key (two replicas) exactly one creates; all get its record", async () => {
        const owner = uniq("owner");
        const key = uniq("key");
        const puts = Array.from({ length: 24 }, (_, i) =>
          (i % 2 ? replica() : store()).putIdempotency({
            owner,
            key,
            kind: "sandbox",
            request_hash: `hash-${i}`,
            resource_id: `sbx-${i}`,
            created_at: 1000 + i,
          }),
        );
        const results = await Promise.all(puts);
        const created = results.filter((r) => r.created);
        expect(created).toHaveLength(1);
        const winner = created[0]?.record;
        for (const r of results) expect(r.record).toEqual(winner);
        expect(await store().getIdempotency(owner, key)).toEqual(winner);
      });

      it("insertSandboxOnce: of concurrent creates with one key exactly one inserts; all see its record", async () => {
        const owner = uniq("owner");
        const key = uniq("key");
        const attempts = Array.from({ length: 16 }, (_, i) =>
          newSandbox({ owner, metadata: { try: String(i) } }),
        );
        const results = await Promise.all(
          attempts.map((rec, i) =>
            (i % 2 ? replica() : store()).insertSandboxOnce(rec, {
              owner,
              key,
              kind: "sandbox",
              request_hash: "same-body",
              created_at: 7000,
            }),
          ),
        );
        const created = results.filter((r) => r.created);
        expect(created).toHaveLength(1);
        const winner = created[0]?.record as SandboxRecord;
        expect(winner.version).toBe(1);
        for (const r of results) {
          expect(r.record).toEqual(winner);
          expect(r.idempotency).toEqual({
            owner,
            key,
            kind: "sandbox",
            request_hash: "same-body",
            resource_id: winner.id,
            created_at: 7000,
          });
        }
        // One sandbox, and its metadata index row, exist; the losers wrote nothing.
        expect(await store().countSandboxes({ owner })).toBe(1);
        expect(await store().countSandboxes({ owner, metadata: winner.metadata })).toBe(1);
        // A retry after the fact (as after a restart) finds the same sandbox.
        const again = await store().insertSandboxOnce(newSandbox({ owner }), {
          owner,
          key,
          kind: "sandbox",
          request_hash: "other-body",
          created_at: 8000,
        });
        expect(again).toEqual({ created: false, idempotency: results[0]?.idempotency, record: winner });
      });

      it("insertSandboxOnce with a key whose record is missing answers the key and no record", async () => {
        const owner = uniq("owner");
        const key = uniq("key");
        const idem = { owner, key, kind: "sandbox", request_hash: "h", created_at: 1_000_000 };
        await store().putIdempotency({ ...idem, resource_id: "sbx-gone" });
        const res = await store().insertSandboxOnce(newSandbox({ owner }), idem);
        expect(res).toEqual({
          created: false,
          idempotency: { ...idem, resource_id: "sbx-gone" },
          record: undefined,
        });
        expect(await store().countSandboxes({ owner })).toBe(0);
      });

      it("keys are per owner; get of an unknown key is undefined; prune drops only older keys", async () => {
        const key = uniq("key");
        const [o1, o2] = [uniq("owner"), uniq("owner")];
        const base = { key, kind: "sandbox", request_hash: "h", resource_id: "sbx-1" };
        expect((await store().putIdempotency({ ...base, owner: o1, created_at: 10 })).created).toBe(true);
        expect((await store().putIdempotency({ ...base, owner: o2, created_at: 20 })).created).toBe(true);
        expect(await store().getIdempotency(uniq("owner"), key)).toBeUndefined();
        // Every other test makes keys with created_at >= 1000, so exactly o1's goes.
        expect(await store().pruneIdempotency(15)).toBe(1);
        expect(await store().getIdempotency(o1, key)).toBeUndefined();
        expect(await store().getIdempotency(o2, key)).toEqual({ ...base, owner: o2, created_at: 20 });
      });
    });

    describe("rollouts", () => {
      it("insert, get, update with compare-and-set, list with metadata filters and pages, count", async () => {
        const owner = uniq("owner");
        const recs = Array.from({ length: 7 }, (_, i) =>
          newRollout({ owner, created_at: 5000 + i, metadata: { group: i < 4 ? "g1" : "g2" } }),
        );
        for (const r of recs) expect(await store().insertRollout(r)).toEqual({ ...r, version: 1 });
        const first = recs[0] as NewRollout;
        expect(await replica().getRollout(first.id)).toEqual({ ...first, version: 1 });
        expect(await store().getRollout("rol-never")).toBeUndefined();

        const done = await store().updateRollout(
          first.id,
          {
            state: "completed",
            result: { reward: 1, patch: "diff --git" },
            finished_at: 6000,
            sandbox_id: "sbx-9",
          },
          1,
        );
        expect(done).toEqual({
          ...first,
          state: "completed",
          result: { reward: 1, patch: "diff --git" },
          finished_at: 6000,
          sandbox_id: "sbx-9",
          version: 2,
        });
        expect(await store().updateRollout(first.id, { state: "failed" }, 1)).toBeUndefined();

        const g1 = await collectPages((cursor) =>
          store().listRollouts({ owner, metadata: { group: "g1" }, limit: 3, cursor }),
        );
        expect(g1.ids).toEqual(recs.slice(0, 4).map((r) => r.id));
        expect(g1.pages).toBe(2);
        expect(await store().countRollouts({ owner, states: ["queued"] })).toBe(6);
        expect(await store().countRollouts({ owner, metadata: { group: "g2" } })).toBe(3);
        const completed = await store().listRollouts({ owner, states: ["completed"] });
        expect(completed.items.map((r) => r.id)).toEqual([first.id]);
      });

      it("insertRolloutOnce: one rollout per key, also under concurrent retries on two replicas", async () => {
        const owner = uniq("owner");
        const idem = { owner, key: uniq("key"), kind: "rollout", request_hash: "h", created_at: 1_000_000 };
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 ? replica() : store()).insertRolloutOnce(newRollout({ owner }), idem),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const winner = results.find((r) => r.created)?.record;
        for (const r of results) expect(r.record).toEqual(winner);
        expect(await store().countRollouts({ owner })).toBe(1);
      });
    });

    describe("duty leases", () => {
      it("one holder at a time; renew; expiry lets another take over; release frees it", async () => {
        const duty = uniq("reaper");
        const t = 1_000_000;
        expect(await store().getDuty(duty)).toBeUndefined();
        expect(await store().acquireDuty(duty, "r1", 10_000, t)).toBe(true);
        expect(await replica().acquireDuty(duty, "r2", 10_000, t + 1)).toBe(false);
        // Renewal by the holder extends the lease.
        expect(await store().acquireDuty(duty, "r1", 10_000, t + 5000)).toBe(true);
        expect(await store().getDuty(duty)).toEqual({ name: duty, holder: "r1", expires_at: t + 15_000 });
        expect(await replica().acquireDuty(duty, "r2", 10_000, t + 14_999)).toBe(false);
        // Expired: the other replica takes over, and the old holder is out.
        expect(await replica().acquireDuty(duty, "r2", 10_000, t + 15_000)).toBe(true);
        expect(await store().acquireDuty(duty, "r1", 10_000, t + 15_001)).toBe(false);
        expect(await store().getDuty(duty)).toEqual({ name: duty, holder: "r2", expires_at: t + 25_000 });
        // Only the holder can release.
        await store().releaseDuty(duty, "r1");
        expect((await store().getDuty(duty))?.holder).toBe("r2");
        await replica().releaseDuty(duty, "r2");
        expect(await store().getDuty(duty)).toBeUndefined();
        expect(await store().acquireDuty(duty, "r1", 10_000, t + 15_002)).toBe(true);
      });

      it("of many holders racing for a free lease exactly one gets it", async () => {
        const duty = uniq("refill");
        const now = Date.now();
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            (i % 2 ? replica() : store()).acquireDuty(duty, `h${i}`, 5000, now),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const holder = `h${results.indexOf(true)}`;
        expect(await store().getDuty(duty)).toEqual({ name: duty, holder, expires_at: now + 5000 });
      });

      it("rejects a non-positive ttl", async () => {
        await expect(store().acquireDuty(uniq("d"), "h", 0)).rejects.toBeInstanceOf(StoreArgumentError);
      });
    });

    describe("shared rate bucket", () => {
      it("concurrent takers (two replicas) get distinct slots: burst at once, then one per 1/rate", async () => {
        const bucket = uniq("ags");
        const now = 2_000_000;
        const waits = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 ? replica() : store()).takeRateToken(bucket, 10, 3, now),
          ),
        );
        // rate 10/s, burst 3: three go now, then one every 100 ms.
        expect(waits.sort((a, b) => a - b)).toEqual([0, 0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
      });

      it("refills at the rate up to the burst, never beyond, and a clock going back adds nothing", async () => {
        const bucket = uniq("ags");
        const take = (now: number) => store().takeRateToken(bucket, 1000, 2, now);
        // 1000/s = one token per ms.
        expect([await take(0), await take(0), await take(0)]).toEqual([0, 0, 1]);
        // At t=1 the token that came back is the one reserved at t=0: this caller waits too.
        expect(await take(1)).toBe(1);
        // After a long idle the bucket holds the burst, not everything that would have accrued.
        expect([await take(100), await take(100), await take(100)]).toEqual([0, 0, 1]);
        // A replica whose clock is behind (or whose call was held up while later ones went through)
        // refills nothing and gets its slot on the bucket's clock: 2 ms after t=100, 52 ms after its own now.
        expect(await take(50)).toBe(52);
      });

      it("a fractional rate waits the exact share; invalid rates and bursts are StoreArgumentError", async () => {
        const bucket = uniq("ags");
        expect(await store().takeRateToken(bucket, 0.5, 1, 0)).toBe(0);
        expect(await store().takeRateToken(bucket, 0.5, 1, 0)).toBe(2000);
        expect(await store().takeRateToken(bucket, 0.5, 1, 1000)).toBe(3000);
        for (const [rate, burst] of [
          [0, 1],
          [-1, 1],
          [Number.NaN, 1],
          [1, 0],
          [1, Number.POSITIVE_INFINITY],
        ] as const) {
          await expect(store().takeRateToken(bucket, rate, burst, 0)).rejects.toBeInstanceOf(
            StoreArgumentError,
          );
        }
      });
    });
  });
}
