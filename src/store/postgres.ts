/**
 * PostgreSQL through a `pg` Pool under Kysely's PostgresDialect, for replicas that share one registry.
 * Numbers come back as numbers: `bigint` columns (epoch ms, versions) and `count(*)` are int8, which pg
 * hands out as strings by default; this pool's own type parsers turn them into numbers (refusing values
 * beyond 2^53 rather than rounding them), without touching pg's process-wide defaults.
 *
 * Every wait is bounded: connecting, each statement (server-side `statement_timeout`) and each query as the
 * client sees it. An idle connection dropped by the server is an 'error' event that must be handled or it
 * would crash the process; the pool replaces it and the next query reports any lasting failure.
 */
import { PostgresDialect } from "kysely";
import pg from "pg";

const CONNECT_TIMEOUT_MS = 10_000;
/** Longest statement: the store's are point lookups and small pages; a migration may wait on another's lock. */
const STATEMENT_TIMEOUT_MS = 60_000;
/** Client-side bound, a little above the server's so the server's clearer error wins. */
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 5000;
const DEFAULT_POOL_SIZE = 10;

const INT8_OID = 20;

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?...` */
  connectionString: string;
  poolSize?: number;
  /** Told about errors of idle pooled connections (default: ignored; the next query surfaces them). */
  onIdleError?: (err: Error) => void;
}

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} does not fit a JavaScript number`);
  return n;
}

/** pg's type parsers with int8 as a number; everything else as pg's defaults. */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export function openPostgres(opts: PostgresOptions): { dialect: PostgresDialect; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: "swerex",
    types,
  });
  pool.on("error", (err) => opts.onIdleError?.(err));
  return { dialect: new PostgresDialect({ pool }), pool };
}
