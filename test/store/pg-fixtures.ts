/**
 * PostgreSQL for the store tests: a database of its own per store (random name, dropped after), on the
 * server named by `SWEREX_TEST_PG_URL` (CI starts one, see .ci/run). When it is missing or unreachable the
 * PostgreSQL tests skip with a message, except under `CI=true`, where that is a failure (as the Docker
 * tests do without an engine).
 */
import { describe } from "vitest";
import { redactDatabaseUrl } from "../../src/store/index.js";
import type { TempDatabase } from "./fixtures.js";
import { adminQuery, tempPostgresDatabase as tempDatabaseOn } from "./pg-admin.js";

const PG_URL = process.env.SWEREX_TEST_PG_URL;
async function probe(): Promise<string | undefined> {
  if (!PG_URL) return "SWEREX_TEST_PG_URL is not set";
  try {
    await adminQuery(PG_URL, "select 1");
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
export function tempPostgresDatabase(): Promise<TempDatabase> {
  if (!PG_URL) return Promise.reject(new Error("SWEREX_TEST_PG_URL is not set"));
  return tempDatabaseOn(PG_URL);
}
