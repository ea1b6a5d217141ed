/** Set-up shared by the store tests: temporary SQLite files, and opening a migrated store. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStore, type Store } from "../../src/store/index.js";

/** A database (or file) that the test owns: its URL, and how to remove it. */
export interface TempDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A `sqlite:` URL for a file in a new temporary directory. */
export async function tempSqliteDatabase(): Promise<TempDatabase & { path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "swerex-store-"));
  const path = join(dir, "store.db");
  return { url: `sqlite:${path}`, path, drop: () => rm(dir, { recursive: true, force: true }) };
}

/** Opens and migrates the store at `url`. */
export async function openMigrated(url: string): Promise<Store> {
  const store = await createStore(url);
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
