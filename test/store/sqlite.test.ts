/**
 * The store on a SQLite file: the shared contract, plus what only a file can show: the durability settings,
 * data surviving close and reopen, and a writer killed with SIGKILL leaving every acknowledged write.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore, type KyselyStore, type Store } from "../../src/store/index.js";
import { waitForProcessGone } from "../helpers/process.js";
import { defineStoreContract, expectFullyMigrated, newSandbox, uniq } from "./contract.js";
import { openMigrated, type TempDatabase, tempSqliteDatabase } from "./fixtures.js";

const ROOT = join(import.meta.dirname, "../..");
/** Acknowledged writes to collect before the kill: enough that some are surely in flight when it lands. */
const ACKS_BEFORE_KILL = 300;
const CHILD_DEADLINE_MS = 60_000;

defineStoreContract("SQLite file", async () => {
  const file = await tempSqliteDatabase();
  const store = await openMigrated(file.url);
  return {
    store,
    replica: store,
    cleanup: async () => {
      await store.close();
      await file.drop();
    },
  };
});

describe("SQLite file specifics", () => {
  let file: (TempDatabase & { path: string }) | undefined;
  beforeAll(async () => {
    file = await tempSqliteDatabase();
  });
  afterAll(async () => {
    await file?.drop();
  });
  const url = (): string => {
    if (!file) throw new Error("no temp file");
    return file.url;
  };

  it("runs in WAL mode with synchronous=NORMAL, a busy timeout and foreign keys on", async () => {
    const store = (await openMigrated(url())) as KyselyStore;
    try {
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`PRAGMA ${name}`).execute(store.db)).rows[0] as object)[0];
      expect(await pragma("journal_mode")).toBe("wal");
      // 1 = NORMAL
      expect(await pragma("synchronous")).toBe(1);
      expect(await pragma("busy_timeout")).toBe(5000);
      expect(await pragma("foreign_keys")).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("concurrent migrate() calls on a new file apply each migration once", async () => {
    const fresh = await tempSqliteDatabase();
    const store = (await createStore(fresh.url)) as KyselyStore;
    try {
      await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
      await expectFullyMigrated(store);
    } finally {
      await store.close();
      await fresh.drop();
    }
  });

  it("keeps everything across close and reopen; close is idempotent", async () => {
    const first = await openMigrated(url());
    const rec = newSandbox({ metadata: { keep: "me" } });
    await first.insertSandbox(rec);
    const updated = await first.updateSandbox(rec.id, { state: "stopped", stopped_at: 123 }, 1);
    await first.putIdempotency({
      owner: rec.owner,
      key: rec.id,
      kind: "sandbox",
      request_hash: "h",
      resource_id: rec.id,
      created_at: 1,
    });
    expect(await first.acquireDuty("reaper", "r1", 60_000, 0)).toBe(true);
    await first.close();
    await first.close();

    const second = await openMigrated(url());
    try {
      expect(await second.getSandbox(rec.id)).toEqual(updated);
      expect((await second.listSandboxes({ metadata: { keep: "me" } })).items).toEqual([updated]);
      expect((await second.getIdempotency(rec.owner, rec.id))?.resource_id).toBe(rec.id);
      expect(await second.getDuty("reaper")).toEqual({ name: "reaper", holder: "r1", expires_at: 60_000 });
    } finally {
      await second.close();
    }
  });

  it("VACUUM INTO (the documented online backup) copies a consistent, openable store", async () => {
    const store = (await openMigrated(url())) as KyselyStore;
    const backup = await tempSqliteDatabase();
    try {
      const rec = newSandbox({ metadata: { backup: "yes" } });
      await store.insertSandbox(rec);
      await sql`VACUUM INTO ${backup.path}`.execute(store.db);
      const copy = await openMigrated(backup.url);
      try {
        expect(await copy.getSandbox(rec.id)).toEqual({ ...rec, version: 1 });
        expect((await copy.listSandboxes({ metadata: { backup: "yes" } })).items.map((r) => r.id)).toEqual([
          rec.id,
        ]);
      } finally {
        await copy.close();
      }
    } finally {
      await store.close();
      await backup.drop();
    }
  });

  it("a writer killed with SIGKILL leaves a sound file holding every write it acknowledged", async () => {
    const killed = await tempSqliteDatabase();
    const owner = uniq("owner");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/store/writer-child.ts", killed.url, owner],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const acked: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`writer acknowledged ${acked.length} writes in time; stderr: ${stderr}`)),
          CHILD_DEADLINE_MS,
        );
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`writer exited early (${code}); stderr: ${stderr}`));
        });
        createInterface({ input: child.stdout }).on("line", (line) => {
          if (!line.startsWith("ack ")) return;
          acked.push(line.slice(4));
          if (acked.length === ACKS_BEFORE_KILL) {
            clearTimeout(timer);
            // Killed while it keeps writing: the next writes are in flight.
            child.kill("SIGKILL");
            resolve();
          }
        });
      });
      expect(await waitForProcessGone(child.pid as number)).toBe(true);

      const store: Store = await openMigrated(killed.url);
      try {
        const db = (store as KyselyStore).db;
        const check = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(db);
        expect(check.rows).toEqual([{ integrity_check: "ok" }]);
        // Every acknowledged sandbox is there with its final acknowledged state, and its metadata index row.
        for (const ack of acked) {
          const [id, state] = ack.split(" ");
          const rec = await store.getSandbox(id as string);
          expect(rec?.id, `acknowledged ${ack}`).toBe(id);
          if (state === "running") expect(rec?.state).toBe("running");
        }
        const inserted = new Set(acked.map((a) => a.split(" ")[0]));
        const listed = await store.countSandboxes({ owner, metadata: { writer: "child" } });
        expect(listed).toBeGreaterThanOrEqual(inserted.size);
        // Atomic record + index: no sandbox without its metadata row, none of either half-written.
        expect(await store.countSandboxes({ owner })).toBe(listed);
      } finally {
        await store.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await killed.drop();
    }
  });
});
