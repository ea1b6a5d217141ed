/**
 * The store on a real PostgreSQL: the shared contract with two independent pools on one database (two
 * replicas), plus what only PostgreSQL shows: replicas migrating at once, int8 values returned as numbers,
 * and a bounded failure when the server is not there.
 */
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { createStore, type KyselyStore, type Store } from "../../src/store/index.js";
import { defineStoreContract, expectFullyMigrated, newSandbox } from "./contract.js";
import { openMigrated } from "./fixtures.js";
import { adminQuery } from "./pg-admin.js";
import { describePostgres, tempPostgresDatabase } from "./pg-fixtures.js";

function serverUrl(): string {
  return process.env.SWEREX_TEST_PG_URL as string;
}

describePostgres("PostgreSQL", () => {
  defineStoreContract("PostgreSQL, two replicas", async () => {
    const database = await tempPostgresDatabase();
    const store = await openMigrated(database.url);
    const replica = await createStore(database.url);
    return {
      store,
      replica,
      cleanup: async () => {
        await Promise.all([store.close(), replica.close()]);
        await database.drop();
      },
    };
  });

  describe("PostgreSQL specifics", () => {
    it("replicas migrating a new database at once apply each migration exactly once", async () => {
      const database = await tempPostgresDatabase();
      const stores: Store[] = [];
      try {
        for (let i = 0; i < 4; i++) stores.push(await createStore(database.url, { poolSize: 2 }));
        await Promise.all(stores.map((s) => s.migrate()));
        await expectFullyMigrated(stores[0] as Store);
        // The schema is usable from every replica.
        const rec = newSandbox();
        await stores[1]?.insertSandbox(rec);
        expect((await stores[2]?.getSandbox(rec.id))?.id).toBe(rec.id);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await database.drop();
      }
    });

    it("survives the server dropping its idle connections: reported, replaced, next query works", async () => {
      const database = await tempPostgresDatabase();
      const idleErrors: Error[] = [];
      const store = await createStore(database.url, { poolSize: 2, onIdleError: (e) => idleErrors.push(e) });
      try {
        await store.migrate();
        await Promise.all([store.ping(), store.ping()]);
        const name = new URL(database.url).pathname.slice(1);
        await adminQuery(
          serverUrl(),
          `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`,
        );
        const deadline = Date.now() + 10_000;
        while (idleErrors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(idleErrors.length).toBeGreaterThan(0);
        await store.ping();
        const rec = newSandbox();
        await store.insertSandbox(rec);
        expect((await store.getSandbox(rec.id))?.id).toBe(rec.id);
      } finally {
        await store.close();
        await database.drop();
      }
    });

    it("returns bigint columns and counts as JavaScript numbers", async () => {
      const database = await tempPostgresDatabase();
      const store = await openMigrated(database.url);
      try {
        const big = 8_000_000_000_000; // beyond 32 bits, well within 2^53
        const rec = newSandbox({ created_at: big, expires_at: big + 1 });
        await store.insertSandbox(rec);
        const got = await store.getSandbox(rec.id);
        expect(got?.created_at).toBe(big);
        expect(got?.expires_at).toBe(big + 1);
        expect(await store.countSandboxes({})).toBe(1);
        const db = (store as KyselyStore).db;
        const types = await sql<{ t: string }>`
          select data_type as t from information_schema.columns
          where table_name = 'sandboxes' and column_name = 'created_at'`.execute(db);
        expect(types.rows).toEqual([{ t: "bigint" }]);
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
});

describe("PostgreSQL unreachable", () => {
  it("ping fails within the connect deadline instead of hanging", async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const store = await createStore("postgres://nobody:secret@127.0.0.1:1/none");
    try {
      const err = await store.ping().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(String(err?.message)).not.toContain("secret");
    } finally {
      await store.close();
    }
  });
});
