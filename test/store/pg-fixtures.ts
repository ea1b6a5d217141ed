/**
 * PostgreSQL for the store tests: a database of its own per store (random name, dropped after), on the
 * server named by `SWEREX_TEST_PG_URL` (CI starts one, see .ci/run). When it is missing or unreachable the
 * PostgreSQL tests skip with a message, except under `CI=true`, where that is a failure (as the Docker
 * tests do without an engine).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe } from "vitest";
import { redactDatabaseUrl } from "../../src/store/index.js";
import type { TempDatabase } from "./fixtures.js";

const PG_URL = process.env.SWEREX_TEST_PG_URL;
const PROBE_TIMEOUT_MS = 5000;

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function probe(): Promise<string | undefined> {
  if (!PG_URL) return "SWEREX_TEST_PG_URL is not set";
  try {
    await adminQuery("select 1");
    return undefined;
  } catch (err) {
    return `no PostgreSQL at ${redactDatabaseUrl(PG_URL)} (${(err as Error).message})`;
  }
}

const unavailable = await probe();
const underCi = process.env.CI === "true" || process.env.CI === "1";
if (unavailable && underCi) {
  throw new Error(`CI=${process.env.CI}: the store tests need a real PostgreSQL, and ${unavailable}`);
}
if (unavailable) {
  console.warn(
    `skipping PostgreSQL store tests: ${unavailable}. Set SWEREX_TEST_PG_URL=postgres://user@host:port/db.`,
  );
}

/** `describe` when PostgreSQL is reachable, else `describe.skip`. */
export const describePostgres: typeof describe = unavailable ? (describe.skip as typeof describe) : describe;

/** A new, empty PostgreSQL database with a random name on the test server. */
export async function tempPostgresDatabase(): Promise<TempDatabase> {
  if (!PG_URL) throw new Error("SWEREX_TEST_PG_URL is not set");
  const name = `swerex_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a connection a failed test left open must not keep the database alive.
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
