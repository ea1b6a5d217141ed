/**
 * The store room: `createStore(url)` opens the registry named by a `--database` value.
 *   sqlite:PATH           a file (created with its directory when missing); `sqlite:///abs/path` works too
 *   sqlite::memory:       private, in-memory (tests)
 *   postgres://... | postgresql://...   PostgreSQL (replicas)
 * The store is not migrated by opening it: call `migrate()` once at start-up (safe from many replicas).
 */
import { Kysely } from "kysely";
import { StoreUrlError } from "./errors.js";
import { KyselyStore } from "./kysely-store.js";
import { openPostgres } from "./postgres.js";
import type { Tables } from "./schema.js";
import { openSqlite, type SqliteSynchronous } from "./sqlite.js";
import type { Store } from "./types.js";

export { InvalidCursorError, StoreArgumentError, StoreUrlError } from "./errors.js";
export { DEFAULT_PAGE_LIMIT, KyselyStore, MAX_PAGE_LIMIT } from "./kysely-store.js";
export { appliedMigrations, MIGRATIONS } from "./migrations.js";
export * from "./types.js";

export interface StoreOptions {
  /** SQLite: `full` fsyncs every commit (power-cut safe); default `normal` (crash-of-process safe). */
  sqliteSynchronous?: SqliteSynchronous;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
  /** PostgreSQL: errors of idle pooled connections (default: ignored; the next query reports them). */
  onIdleError?: (err: Error) => void;
}

/**
 * `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for messages and logs. Everything up to
 * the last `@` counts as credentials (an unencoded `@` or `/` in a password must not leak a part of it).
 */
export function redactDatabaseUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i.exec(url);
  if (!m) return url;
  const [whole, scheme = "", userinfo = ""] = m;
  const colon = userinfo.indexOf(":");
  const user = colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`;
  return `${scheme}${user}@${url.slice(whole.length)}`;
}

/** The SQLite path a `sqlite:` URL names, or undefined for other URLs. */
export function sqlitePath(url: string): string | undefined {
  if (!url.startsWith("sqlite:")) return undefined;
  let rest = url.slice("sqlite:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  return rest;
}

export async function createStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const path = sqlitePath(url);
  if (path !== undefined) {
    if (path === "") throw new StoreUrlError("sqlite: URL names no file (sqlite:PATH or sqlite::memory:)");
    const dialect = openSqlite({ path, synchronous: options.sqliteSynchronous });
    return new KyselyStore(new Kysely<Tables>({ dialect }), "sqlite");
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { dialect } = openPostgres({
      connectionString: url,
      poolSize: options.poolSize,
      onIdleError: options.onIdleError,
    });
    return new KyselyStore(new Kysely<Tables>({ dialect }), "postgres");
  }
  throw new StoreUrlError(
    `database URL ${JSON.stringify(redactDatabaseUrl(url))} is neither sqlite:PATH nor postgres://...`,
  );
}
