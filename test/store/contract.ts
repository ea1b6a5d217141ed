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
        const db = (store() as KyselyStore).db;
        expect(await appliedMigrations(db)).toEqual(Object.keys(MIGRATIONS).sort());
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

      it("keys are per owner; get of an unknown key is undefined; prune drops only older keys", async () => {
        const key = uniq("key");
        const [o1, o2] = [uniq("owner"), uniq("owner")];
        const base = { key, kind: "sandbox", request_hash: "h", resource_id: "sbx-1" };
        expect((await store().putIdempotency({ ...base, owner: o1, created_at: 10 })).created).toBe(true);
        expect((await store().putIdempotency({ ...base, owner: o2, created_at: 20 })).created).toBe(true);
        expect(await store().getIdempotency(uniq("owner"), key)).toBeUndefined();
        // Keys from other tests are all far newer than 15, so exactly o1's goes.
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
        // A replica whose clock is behind refills nothing and must wait its turn.
        expect(await take(50)).toBe(2);
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
