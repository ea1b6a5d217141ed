/**
 * SQLite through `libsql` (better-sqlite3's API with a prebuilt binary) under Kysely's own SqliteDialect.
 * Kysely's driver needs only `prepare(sql)` and a statement's `reader`/`all`/`run`/`iterate`, which libsql
 * has with the same meaning; the thin adapter here adds a prepared-statement cache (preparing costs about
 * twice a primary-key lookup), takes the write lock at BEGIN, and makes migrations transactional.
 *
 * Durability: WAL with `synchronous=NORMAL`. A write resolves after SQLite committed it to the WAL; a killed
 * process (SIGKILL, OOM) loses nothing acknowledged, because the WAL is in the OS page cache the moment the
 * commit returns. A power cut or kernel crash may lose the last commits (NORMAL skips the fsync per commit);
 * `synchronous: "full"` fsyncs every commit for that case, at roughly a disk flush per write.
 *
 * Concurrency: one process. Kysely serialises this process's queries over its one connection; a second
 * process on the same file would only wait on locks (`busy_timeout`). Several replicas need PostgreSQL.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  type SqliteStatement,
} from "kysely";
import Database from "libsql";

/** How long a statement waits for another connection's lock (a backup, the `sqlite3` shell) before failing. */
const BUSY_TIMEOUT_MS = 5000;
/** Prepared statements kept; the store issues a few dozen distinct query shapes. */
const STATEMENT_CACHE_SIZE = 256;

export type SqliteSynchronous = "normal" | "full";

export interface SqliteOptions {
  /** `:memory:` for a private in-memory database (tests). */
  path: string;
  synchronous?: SqliteSynchronous;
}

type LibsqlDatabase = InstanceType<typeof Database>;
type LibsqlStatement = ReturnType<LibsqlDatabase["prepare"]>;

/** What Kysely's SqliteDialect calls, over one libsql connection, with prepared statements reused. */
class CachingDatabase {
  readonly #db: LibsqlDatabase;
  readonly #statements = new Map<string, LibsqlStatement>();

  constructor(db: LibsqlDatabase) {
    this.#db = db;
  }

  prepare(sql: string): SqliteStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        // Maps iterate in insertion order: drop the oldest.
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, stmt);
    }
    return stmt as unknown as SqliteStatement;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}

/** SQLite does run DDL in transactions; Kysely's adapter says no, which would leave half-applied migrations. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Transactions take the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that read first and
 * then wrote could fail with SQLITE_BUSY, without waiting, when another connection (a backup) wrote between.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class LibsqlDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Opens (creating when missing) the database file and sets it up; the dialect owns it from then on. */
export function openSqlite(opts: SqliteOptions): SqliteDialect {
  const memory = opts.path === ":memory:";
  if (!memory) mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  try {
    if (!memory) db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${opts.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.exec("PRAGMA foreign_keys = ON");
  } catch (err) {
    db.close();
    throw err;
  }
  return new LibsqlDialect({ database: new CachingDatabase(db) });
}
