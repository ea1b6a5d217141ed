/**
 * PostgreSQL administration for tests and benchmarks (no vitest here): one-off statements on the server,
 * and throwaway databases with random names.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TempDatabase } from "./fixtures.js";

const CONNECT_TIMEOUT_MS = 5000;

/** Runs one statement on the server at `serverUrl` over a connection of its own. */
export async function adminQuery(serverUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A new, empty database with a random name on the server at `serverUrl`; `drop()` removes it. */
export async function tempPostgresDatabase(serverUrl: string, prefix = "swerex_test"): Promise<TempDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a connection a failed run left open must not keep the database alive.
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
