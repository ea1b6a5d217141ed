/**
 * Store speed with 10,000 sandbox records, on a SQLite file and (when `SWEREX_TEST_PG_URL` or `--pg=URL`
 * names a server) on PostgreSQL in a throwaway database: insert rate, `getSandbox` p50/p99, one page of a
 * listing (100 records) walked over the whole set, a metadata-filtered page, and a count. Baseline, same run:
 * the same primary-key lookup through the bare driver (a prepared libsql statement; a pg query), so the
 * ratio is what the query layer and the codec add. Target (issue 8): SQLite get p50 well under 1 ms.
 *
 * `npm run bench -- store [--quick] [--pg=URL]`. JSON goes to bench/results/store-<time>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "libsql";
import pg from "pg";
import { createStore, type NewSandbox, type Store } from "../src/store/index.js";
import { tempSqliteDatabase } from "../test/store/fixtures.js";
import { tempPostgresDatabase } from "../test/store/pg-admin.js";
import { type LatencyStats, latencyStats, roundTo } from "./lib/stats.js";
import type { BenchOptions } from "./run.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { sqlite_get_p50_ms: 1 };
const PAGE = 100;
/** Distinct owners and metadata values, so filters select a tenth of the records. */
const OWNERS = 10;

interface StoreRow {
  store: "sqlite" | "postgres";
  records: number;
  inserts_per_s: number;
  get: LatencyStats;
  /** The same lookup through the bare driver. */
  driver_get: LatencyStats;
  get_vs_driver_p50: number;
  list_page: LatencyStats;
  list_owner_page: LatencyStats;
  list_metadata_page: LatencyStats;
  count_running: LatencyStats;
}

function record(i: number, t0: number): NewSandbox {
  return {
    id: `sbx-${String(i).padStart(6, "0")}-${(i * 2654435761) % 1_000_003}`,
    owner: `owner-${i % OWNERS}`,
    state: i % 7 === 0 ? "stopped" : "running",
    backend: "dummy",
    deployment: { type: "dummy", image: "python:3.12", startup_timeout: 60, env: { A: "1" } },
    handle: { container_id: "f".repeat(64), port: 40000 + (i % 1000), token: "t".repeat(32) },
    metadata: { run: `run-${i % OWNERS}`, task: `task-${i}` },
    pool: null,
    host: null,
    starter: null,
    error: null,
    created_at: t0 + i,
    started_at: t0 + i + 500,
    stopped_at: null,
    expires_at: t0 + 3_600_000,
  };
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<LatencyStats> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return latencyStats(samples);
}

async function measure(
  kind: StoreRow["store"],
  store: Store,
  driverGet: (id: string) => Promise<unknown>,
  records: number,
  lookups: number,
): Promise<StoreRow> {
  await store.migrate();
  const t0 = 1_764_000_000_000;
  const recs = Array.from({ length: records }, (_, i) => record(i, t0));
  const insertStart = performance.now();
  for (const r of recs) await store.insertSandbox(r);
  const insertsPerS = records / ((performance.now() - insertStart) / 1000);

  const idAt = (i: number): string => (recs[(i * 7919) % records] as NewSandbox).id;
  // Warm-up: statement caches, connections, the OS page cache.
  for (let i = 0; i < 200; i++) {
    await store.getSandbox(idAt(i));
    await driverGet(idAt(i));
  }
  // Interleaved, so both see the same machine load.
  const get: number[] = [];
  const driver: number[] = [];
  for (let i = 0; i < lookups; i++) {
    let t = performance.now();
    await store.getSandbox(idAt(i));
    get.push(performance.now() - t);
    t = performance.now();
    await driverGet(idAt(i));
    driver.push(performance.now() - t);
  }
  const getStats = latencyStats(get);
  const driverStats = latencyStats(driver);

  const pages = async (q: Parameters<Store["listSandboxes"]>[0]): Promise<LatencyStats> => {
    const samples: number[] = [];
    let cursor: string | undefined;
    do {
      const t = performance.now();
      const page = await store.listSandboxes({ ...q, limit: PAGE, cursor });
      samples.push(performance.now() - t);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return latencyStats(samples);
  };
  return {
    store: kind,
    records,
    inserts_per_s: Math.round(insertsPerS),
    get: getStats,
    driver_get: driverStats,
    get_vs_driver_p50: roundTo(getStats.p50_ms / driverStats.p50_ms, 2),
    list_page: await pages({}),
    list_owner_page: await pages({ owner: "owner-3" }),
    list_metadata_page: await pages({ owner: "owner-3", metadata: { run: "run-3" } }),
    count_running: await timeEach(50, () => store.countSandboxes({ owner: "owner-3", states: ["running"] })),
  };
}

async function benchSqlite(records: number, lookups: number): Promise<StoreRow> {
  const file = await tempSqliteDatabase();
  const store = await createStore(file.url);
  const raw = new Database(file.path);
  try {
    // Prepared on first use: the table exists once measure() migrated.
    let stmt: ReturnType<typeof raw.prepare> | undefined;
    const driverGet = async (id: string) => {
      stmt ??= raw.prepare("select * from sandboxes where id = ?");
      return stmt.get([id]);
    };
    return await measure("sqlite", store, driverGet, records, lookups);
  } finally {
    raw.close();
    await store.close();
    await file.drop();
  }
}

async function benchPostgres(serverUrl: string, records: number, lookups: number): Promise<StoreRow> {
  const database = await tempPostgresDatabase(serverUrl, "swerex_bench");
  const store = await createStore(database.url);
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    const lookup = { name: "bench_get", text: "select * from sandboxes where id = $1" };
    return await measure(
      "postgres",
      store,
      (id) => client.query({ ...lookup, values: [id] }),
      records,
      lookups,
    );
  } finally {
    await client.end().catch(() => {});
    await store.close();
    await database.drop();
  }
}

function fmt(s: LatencyStats): string {
  return `${s.p50_ms} / ${s.p99_ms} ms`;
}

export default async function bench(opts: BenchOptions): Promise<unknown> {
  const records = opts.quick ? 2000 : 10_000;
  const lookups = opts.quick ? 1000 : 5000;
  const pgArg = opts.args.find((a) => a.startsWith("--pg="))?.slice(5) ?? process.env.SWEREX_TEST_PG_URL;
  const rows: StoreRow[] = [await benchSqlite(records, lookups)];
  if (pgArg) rows.push(await benchPostgres(pgArg, records, lookups));
  else process.stdout.write("no PostgreSQL (set SWEREX_TEST_PG_URL or --pg=URL): SQLite only\n");

  const sqliteRow = rows[0] as StoreRow;
  const result = {
    benchmark: "store",
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg() },
    target: TARGET,
    meets_target: sqliteRow.get.p50_ms <= TARGET.sqlite_get_p50_ms,
    rows,
  };
  const table = [["measurement (p50 / p99)", ...rows.map((r) => r.store)]];
  table.push(["inserts/s", ...rows.map((r) => String(r.inserts_per_s))]);
  table.push(["getSandbox", ...rows.map((r) => fmt(r.get))]);
  table.push(["bare driver get (baseline)", ...rows.map((r) => fmt(r.driver_get))]);
  table.push(["get / driver p50", ...rows.map((r) => String(r.get_vs_driver_p50))]);
  table.push([`list page of ${PAGE}`, ...rows.map((r) => fmt(r.list_page))]);
  table.push([`list page, owner filter`, ...rows.map((r) => fmt(r.list_owner_page))]);
  table.push([`list page, owner+metadata`, ...rows.map((r) => fmt(r.list_metadata_page))]);
  table.push(["count, owner+state", ...rows.map((r) => fmt(r.count_running))]);
  const width = table.map((r) => (r[0] ?? "").length).reduce((a, b) => Math.max(a, b), 0);
  process.stdout.write(`store benchmark, ${records} records\n`);
  for (const [k, ...v] of table)
    process.stdout.write(`${(k ?? "").padEnd(width)}  ${v.map((x) => x.padEnd(20)).join("")}\n`);
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `store-${result.when.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  bench({ quick: process.argv.includes("--quick"), args: process.argv.slice(2) }).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench store: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
