/**
 * The Store over Kysely: the same queries for SQLite and PostgreSQL. Only portable SQL is used (upserts with
 * `ON CONFLICT`, `RETURNING`, row-value comparisons, `CASE` instead of `min`/`greatest`), so one code path
 * serves both and the contract suite proves it on both.
 *
 * What each write guarantees:
 * - Every method resolves after its change committed (see sqlite.ts for what "committed" means there).
 * - `updateX(id, patch, expectVersion)` is one `UPDATE ... WHERE version = ? RETURNING`: a compare-and-set
 *   that exactly one of several racing writers wins, on either database.
 * - `putIdempotency` is `INSERT ... ON CONFLICT DO NOTHING RETURNING`, then a read: across replicas the
 *   insert that wins is the only one that sees its row returned. `insertXOnce` does the same and inserts
 *   the record in the same transaction.
 * - `claimSandbox` picks the oldest match `FOR UPDATE SKIP LOCKED` (PostgreSQL) and updates it in one
 *   transaction: racing claimers get distinct records.
 * - `acquireDuty` is one upsert whose update only applies when the lease is free, expired or the caller's.
 * - `takeRateToken` is one upsert that refills and takes in the same row update (a row lock on PG).
 * A record and its metadata index rows are written in one transaction.
 */
import { type ExpressionBuilder, type Kysely, type SqlBool, sql } from "kysely";
import {
  type CursorPosition,
  decodeCursor,
  encodeCursor,
  rolloutPatchToRow,
  rolloutToRow,
  rowToRollout,
  rowToSandbox,
  sandboxPatchToRow,
  sandboxToRow,
} from "./codec.js";
import { StoreArgumentError } from "./errors.js";
import { migrateToLatest } from "./migrations.js";
import type { IdempotencyRow, RolloutRow, SandboxRow, Tables } from "./schema.js";
import type {
  DutyLease,
  IdempotencyRecord,
  NewRollout,
  NewSandbox,
  OnceResult,
  Page,
  RolloutPatch,
  RolloutQuery,
  RolloutRecord,
  SandboxPatch,
  SandboxQuery,
  SandboxRecord,
  SandboxState,
  SandboxTally,
  Store,
} from "./types.js";

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** `putIdempotency` re-reads when a prune removed the winner between its insert and the read. */
const IDEMPOTENCY_ATTEMPTS = 3;

type VersionedTable = "sandboxes" | "rollouts";
type MetadataTable = "sandbox_metadata" | "rollout_metadata";

/** The filters both record kinds share. */
interface CommonQuery {
  owner?: string;
  states?: readonly string[];
  metadata?: Record<string, string>;
}

type SandboxEb = ExpressionBuilder<Tables, "sandboxes">;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isFinite(limit) || limit < 1) throw new StoreArgumentError(`limit must be >= 1, got ${limit}`);
  return Math.min(Math.floor(limit), MAX_PAGE_LIMIT);
}

function metadataRows(id: string, metadata: Record<string, string> | undefined) {
  return Object.entries(metadata ?? {}).map(([key, value]) => ({ record_id: id, key, value }));
}

export class KyselyStore implements Store {
  readonly kind: "sqlite" | "postgres";
  readonly #db: Kysely<Tables>;
  #closed: Promise<void> | undefined;

  constructor(db: Kysely<Tables>, kind: "sqlite" | "postgres") {
    this.#db = db;
    this.kind = kind;
  }

  /** The query builder, for tests and benchmarks that inspect the schema. */
  get db(): Kysely<Tables> {
    return this.#db;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.#db as unknown as Kysely<unknown>);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  close(): Promise<void> {
    this.#closed ??= this.#db.destroy();
    return this.#closed;
  }

  // ---- sandboxes

  async insertSandbox(rec: NewSandbox): Promise<SandboxRecord> {
    const row = sandboxToRow(rec, 1);
    await this.#insertVersioned("sandboxes", "sandbox_metadata", row, rec.metadata);
    return rowToSandbox(row);
  }

  async getSandbox(id: string): Promise<SandboxRecord | undefined> {
    const row = await this.#db.selectFrom("sandboxes").selectAll().where("id", "=", id).executeTakeFirst();
    return row && rowToSandbox(row);
  }

  async updateSandbox(
    id: string,
    patch: SandboxPatch,
    expectVersion?: number,
  ): Promise<SandboxRecord | undefined> {
    const row = await this.#updateVersioned(
      "sandboxes",
      "sandbox_metadata",
      id,
      sandboxPatchToRow(patch),
      patch.metadata,
      expectVersion,
    );
    return row && rowToSandbox(row as SandboxRow);
  }

  async listSandboxes(q: SandboxQuery): Promise<Page<SandboxRecord>> {
    const limit = pageLimit(q.limit);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    let query = this.#db
      .selectFrom("sandboxes")
      .selectAll()
      .where((eb) => this.#sandboxFilter(eb, q));
    if (after) query = query.where((eb) => afterCursor(eb, after));
    const rows = await query
      .orderBy("created_at")
      .orderBy("id")
      .limit(limit + 1)
      .execute();
    return toPage(rows, limit, rowToSandbox);
  }

  async countSandboxes(q: Omit<SandboxQuery, "limit" | "cursor">): Promise<number> {
    const row = await this.#db
      .selectFrom("sandboxes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) => this.#sandboxFilter(eb, q))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async tallySandboxes(q: Omit<SandboxQuery, "limit" | "cursor"> = {}): Promise<SandboxTally[]> {
    const rows = await this.#db
      .selectFrom("sandboxes")
      .select((eb) => ["state", "backend", eb.fn.countAll<number>().as("count")])
      .where((eb) => this.#sandboxFilter(eb, q))
      .groupBy(["state", "backend"])
      .orderBy("state")
      .orderBy("backend")
      .execute();
    return rows.map((r) => ({ state: r.state as SandboxState, backend: r.backend, count: Number(r.count) }));
  }

  async claimSandbox(
    q: Omit<SandboxQuery, "limit" | "cursor">,
    patch: SandboxPatch,
  ): Promise<SandboxRecord | undefined> {
    const row = await this.#db.transaction().execute(async (tx) => {
      // The oldest match; on PostgreSQL a row another claimer has locked is skipped, not waited for, and
      // one that a committed claim changed is re-checked against the filter (on SQLite the one writer
      // makes the transaction atomic by itself).
      let pick = tx
        .selectFrom("sandboxes")
        .select("id")
        .where((eb) => this.#sandboxFilter(eb, q))
        .orderBy("created_at")
        .orderBy("id")
        .limit(1);
      if (this.kind === "postgres") pick = pick.forUpdate().skipLocked();
      const picked = await pick.executeTakeFirst();
      if (!picked) return undefined;
      const set = sandboxPatchToRow(patch);
      return updateVersioned(tx, "sandboxes", "sandbox_metadata", picked.id, set, patch.metadata, undefined);
    });
    return row && rowToSandbox(row as SandboxRow);
  }

  #sandboxFilter(eb: SandboxEb, q: Omit<SandboxQuery, "limit" | "cursor">) {
    const conds = commonFilters(eb, "sandbox_metadata", q);
    if (q.backend !== undefined) conds.push(eb("backend", "=", q.backend));
    if (q.pool === null) conds.push(eb("pool", "is", null));
    else if (q.pool !== undefined) conds.push(eb("pool", "=", q.pool));
    if (q.host !== undefined) conds.push(eb("host", "=", q.host));
    if (q.expiresBefore !== undefined) conds.push(eb("expires_at", "<=", q.expiresBefore));
    return eb.and(conds);
  }

  // ---- idempotency keys

  async putIdempotency(rec: IdempotencyRecord): Promise<{ record: IdempotencyRecord; created: boolean }> {
    const row: IdempotencyRow = {
      owner: rec.owner,
      key: rec.key,
      kind: rec.kind,
      request_hash: rec.request_hash,
      resource_id: rec.resource_id,
      created_at: rec.created_at,
    };
    for (let attempt = 0; attempt < IDEMPOTENCY_ATTEMPTS; attempt++) {
      const inserted = await this.#db
        .insertInto("idempotency_keys")
        .values(row)
        .onConflict((oc) => oc.columns(["owner", "key"]).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { record: inserted, created: true };
      const existing = await this.getIdempotency(rec.owner, rec.key);
      if (existing) return { record: existing, created: false };
    }
    throw new Error(`idempotency key kept vanishing between insert and read (${IDEMPOTENCY_ATTEMPTS} tries)`);
  }

  insertSandboxOnce(
    rec: NewSandbox,
    idem: Omit<IdempotencyRecord, "resource_id">,
  ): Promise<OnceResult<SandboxRecord>> {
    return this.#insertOnce(
      "sandboxes",
      "sandbox_metadata",
      sandboxToRow(rec, 1),
      rec.metadata,
      idem,
      rowToSandbox,
    );
  }

  insertRolloutOnce(
    rec: NewRollout,
    idem: Omit<IdempotencyRecord, "resource_id">,
  ): Promise<OnceResult<RolloutRecord>> {
    return this.#insertOnce(
      "rollouts",
      "rollout_metadata",
      rolloutToRow(rec, 1),
      rec.metadata,
      idem,
      rowToRollout,
    );
  }

  async getIdempotency(owner: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.#db
      .selectFrom("idempotency_keys")
      .selectAll()
      .where("owner", "=", owner)
      .where("key", "=", key)
      .executeTakeFirst();
  }

  async pruneIdempotency(before: number): Promise<number> {
    const res = await this.#db
      .deleteFrom("idempotency_keys")
      .where("created_at", "<", before)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  // ---- rollouts

  async insertRollout(rec: NewRollout): Promise<RolloutRecord> {
    const row = rolloutToRow(rec, 1);
    await this.#insertVersioned("rollouts", "rollout_metadata", row, rec.metadata);
    return rowToRollout(row);
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const row = await this.#db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
    return row && rowToRollout(row);
  }

  async updateRollout(
    id: string,
    patch: RolloutPatch,
    expectVersion?: number,
  ): Promise<RolloutRecord | undefined> {
    const row = await this.#updateVersioned(
      "rollouts",
      "rollout_metadata",
      id,
      rolloutPatchToRow(patch),
      patch.metadata,
      expectVersion,
    );
    return row && rowToRollout(row as RolloutRow);
  }

  async listRollouts(q: RolloutQuery): Promise<Page<RolloutRecord>> {
    const limit = pageLimit(q.limit);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    let query = this.#db
      .selectFrom("rollouts")
      .selectAll()
      .where((eb) => eb.and(commonFilters(eb, "rollout_metadata", q)));
    if (after) query = query.where((eb) => afterCursor(eb, after));
    const rows = await query
      .orderBy("created_at")
      .orderBy("id")
      .limit(limit + 1)
      .execute();
    return toPage(rows, limit, rowToRollout);
  }

  async countRollouts(q: Omit<RolloutQuery, "limit" | "cursor">): Promise<number> {
    const row = await this.#db
      .selectFrom("rollouts")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) => eb.and(commonFilters(eb, "rollout_metadata", q)))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // ---- shared by both versioned record kinds

  async #insertVersioned(
    table: VersionedTable,
    metaTable: MetadataTable,
    row: SandboxRow | RolloutRow,
    metadata: Record<string, string> | undefined,
  ): Promise<void> {
    // One statement needs no transaction; a record with metadata rows does.
    if (Object.keys(metadata ?? {}).length === 0) {
      await writeVersioned(this.#db, table, metaTable, row, metadata);
      return;
    }
    await this.#db.transaction().execute((tx) => writeVersioned(tx, table, metaTable, row, metadata));
  }

  async #insertOnce<R>(
    table: VersionedTable,
    metaTable: MetadataTable,
    row: SandboxRow | RolloutRow,
    metadata: Record<string, string> | undefined,
    idem: Omit<IdempotencyRecord, "resource_id">,
    decode: (row: SandboxRow & RolloutRow) => R,
  ): Promise<OnceResult<R>> {
    const key: IdempotencyRow = {
      owner: idem.owner,
      key: idem.key,
      kind: idem.kind,
      request_hash: idem.request_hash,
      resource_id: row.id,
      created_at: idem.created_at,
    };
    for (let attempt = 0; attempt < IDEMPOTENCY_ATTEMPTS; attempt++) {
      const result = await this.#db.transaction().execute(async (tx): Promise<OnceResult<R> | undefined> => {
        // On PostgreSQL a racing transaction's insert of the same key waits here until the first commits.
        const inserted = await tx
          .insertInto("idempotency_keys")
          .values(key)
          .onConflict((oc) => oc.columns(["owner", "key"]).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) {
          await writeVersioned(tx, table, metaTable, row, metadata);
          return { created: true, idempotency: inserted, record: decode(row as SandboxRow & RolloutRow) };
        }
        const existing = await tx
          .selectFrom("idempotency_keys")
          .selectAll()
          .where("owner", "=", idem.owner)
          .where("key", "=", idem.key)
          .executeTakeFirst();
        if (!existing) return undefined;
        const stored = await tx
          .selectFrom(table)
          .selectAll()
          .where("id", "=", existing.resource_id)
          .executeTakeFirst();
        return {
          created: false,
          idempotency: existing,
          record: stored && decode(stored as SandboxRow & RolloutRow),
        };
      });
      if (result) return result;
    }
    throw new Error(`idempotency key kept vanishing between insert and read (${IDEMPOTENCY_ATTEMPTS} tries)`);
  }

  async #updateVersioned(
    table: VersionedTable,
    metaTable: MetadataTable,
    id: string,
    set: Partial<SandboxRow> | Partial<RolloutRow>,
    metadata: Record<string, string> | undefined,
    expectVersion: number | undefined,
  ): Promise<SandboxRow | RolloutRow | undefined> {
    const apply = (exec: Kysely<Tables>) =>
      updateVersioned(exec, table, metaTable, id, set, metadata, expectVersion);
    // One statement needs no transaction; rewriting the metadata rows too does.
    return metadata === undefined ? apply(this.#db) : this.#db.transaction().execute(apply);
  }

  // ---- duty leases

  async acquireDuty(name: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    if (!(ttlMs > 0)) throw new StoreArgumentError(`ttlMs must be > 0, got ${ttlMs}`);
    const expiresAt = now + Math.ceil(ttlMs);
    const row = await this.#db
      .insertInto("duties")
      .values({ name, holder, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) => eb.or([eb("duties.holder", "=", holder), eb("duties.expires_at", "<=", now)])),
      )
      .returning("holder")
      .executeTakeFirst();
    return row !== undefined;
  }

  async releaseDuty(name: string, holder: string): Promise<void> {
    await this.#db.deleteFrom("duties").where("name", "=", name).where("holder", "=", holder).execute();
  }

  async getDuty(name: string): Promise<DutyLease | undefined> {
    return this.#db.selectFrom("duties").selectAll().where("name", "=", name).executeTakeFirst();
  }

  // ---- shared rate limit

  async takeRateToken(bucket: string, ratePerSec: number, burst: number, now = Date.now()): Promise<number> {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) {
      throw new StoreArgumentError(`ratePerSec must be a positive number, got ${ratePerSec}`);
    }
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new StoreArgumentError(`burst must be >= 1, got ${burst}`);
    }
    // Explicit casts: PostgreSQL infers a parameter's type from its neighbour (bigint here), which would
    // reject a fractional rate; SQLite reads `double precision` as REAL and `bigint` as INTEGER.
    const at = sql<number>`cast(${Math.floor(now)} as bigint)`;
    const rate = sql<number>`cast(${ratePerSec} as double precision)`;
    const cap = sql<number>`cast(${burst} as double precision)`;
    const elapsed = sql<number>`case when ${at} > rate_buckets.updated_at then ${at} - rate_buckets.updated_at else 0 end`;
    const refilled = sql<number>`rate_buckets.tokens + ${elapsed} * ${rate} / 1000`;
    const row = await this.#db
      .insertInto("rate_buckets")
      .values({ name: bucket, tokens: sql<number>`${cap} - 1`, updated_at: at })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({
          tokens: sql<number>`case when ${refilled} > ${cap} then ${cap} else ${refilled} end - 1`,
          updated_at: sql<number>`case when ${at} > rate_buckets.updated_at then ${at} else rate_buckets.updated_at end`,
        }),
      )
      .returning(["tokens", "updated_at"])
      .executeTakeFirstOrThrow();
    // The bucket's clock is the latest `now` it has seen. A caller whose `now` is older (it waited for a
    // connection or the row lock while later callers went through, or its clock is behind) gets its slot
    // on the bucket's clock too: counting its debt from its own stale `now` would send it early.
    const debtMs = Math.max(0, (-Number(row.tokens) * 1000) / ratePerSec);
    return Math.max(0, Math.ceil(Number(row.updated_at) + debtMs - now));
  }
}

// Kysely's expression builders are typed per table; these helpers serve both record tables, so they take
// the builder of either (the columns they touch exist in both).
type AnyVersionedEb = ExpressionBuilder<Tables, VersionedTable>;

function commonFilters<EB>(ebIn: EB, metaTable: MetadataTable, q: CommonQuery) {
  const eb = ebIn as unknown as AnyVersionedEb;
  const conds = [];
  if (q.owner !== undefined) conds.push(eb("owner", "=", q.owner));
  if (q.states !== undefined) {
    // An empty list matches nothing (as `state IN ()` would, which is not valid SQL).
    conds.push(q.states.length === 0 ? sql<SqlBool>`1 = 0` : eb("state", "in", [...q.states]));
  }
  const table: VersionedTable = metaTable === "sandbox_metadata" ? "sandboxes" : "rollouts";
  for (const [key, value] of Object.entries(q.metadata ?? {})) {
    // Correlated EXISTS: each candidate row costs one primary-key probe of (record_id, key), so a page
    // costs what it returns; `id IN (subquery)` made SQLite list every match of the pair for every page.
    conds.push(
      eb.exists(
        eb
          .selectFrom(`${metaTable} as m`)
          .select(sql.lit(1).as("one"))
          .whereRef("m.record_id", "=", `${table}.id`)
          .where("m.key", "=", key)
          .where("m.value", "=", value),
      ),
    );
  }
  return conds as ReturnType<SandboxEb>[];
}

/**
 * Applies `set` to record `id` and bumps its version (only at `expectVersion` when given); with `metadata`,
 * rewrites its metadata index rows too, so `exec` must then be a transaction.
 */
async function updateVersioned(
  exec: Kysely<Tables>,
  table: VersionedTable,
  metaTable: MetadataTable,
  id: string,
  set: Partial<SandboxRow> | Partial<RolloutRow>,
  metadata: Record<string, string> | undefined,
  expectVersion: number | undefined,
): Promise<SandboxRow | RolloutRow | undefined> {
  let update = exec
    .updateTable(table)
    .set({ ...(set as Partial<SandboxRow & RolloutRow>), version: sql<number>`version + 1` })
    .where("id", "=", id);
  if (expectVersion !== undefined) update = update.where("version", "=", expectVersion);
  const row = (await update.returningAll().executeTakeFirst()) as SandboxRow | RolloutRow | undefined;
  if (!row || metadata === undefined) return row;
  await exec.deleteFrom(metaTable).where("record_id", "=", id).execute();
  const meta = metadataRows(id, metadata);
  if (meta.length > 0) await exec.insertInto(metaTable).values(meta).execute();
  return row;
}

/** Inserts a record and its metadata index rows with `exec` (inside the caller's transaction when needed). */
async function writeVersioned(
  exec: Kysely<Tables>,
  table: VersionedTable,
  metaTable: MetadataTable,
  row: SandboxRow | RolloutRow,
  metadata: Record<string, string> | undefined,
): Promise<void> {
  await exec
    .insertInto(table)
    .values(row as SandboxRow & RolloutRow)
    .execute();
  const meta = metadataRows(row.id, metadata);
  if (meta.length > 0) await exec.insertInto(metaTable).values(meta).execute();
}

function afterCursor<EB>(ebIn: EB, after: CursorPosition) {
  const eb = ebIn as unknown as AnyVersionedEb;
  return eb(eb.refTuple("created_at", "id"), ">", eb.tuple(after.created_at, after.id));
}

function toPage<R, T extends { created_at: number; id: string }>(
  rows: T[],
  limit: number,
  decode: (row: T) => R,
): Page<R> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return {
    items: items.map(decode),
    nextCursor: more && last ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
  };
}
