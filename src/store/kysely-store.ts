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
 *   insert that wins is the only one that sees its row returned.
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
  Page,
  RolloutPatch,
  RolloutQuery,
  RolloutRecord,
  SandboxPatch,
  SandboxQuery,
  SandboxRecord,
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
    const meta = metadataRows(row.id, metadata);
    if (meta.length === 0) {
      await this.#db
        .insertInto(table)
        .values(row as SandboxRow & RolloutRow)
        .execute();
      return;
    }
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto(table)
        .values(row as SandboxRow & RolloutRow)
        .execute();
      await tx.insertInto(metaTable).values(meta).execute();
    });
  }

  async #updateVersioned(
    table: VersionedTable,
    metaTable: MetadataTable,
    id: string,
    set: Partial<SandboxRow> | Partial<RolloutRow>,
    metadata: Record<string, string> | undefined,
    expectVersion: number | undefined,
  ): Promise<SandboxRow | RolloutRow | undefined> {
    const update = (db: Kysely<Tables>) => {
      let q = db
        .updateTable(table)
        .set({ ...(set as Partial<SandboxRow & RolloutRow>), version: sql<number>`version + 1` })
        .where("id", "=", id);
      if (expectVersion !== undefined) q = q.where("version", "=", expectVersion);
      return q.returningAll().executeTakeFirst() as Promise<SandboxRow | RolloutRow | undefined>;
    };
    if (metadata === undefined) return update(this.#db);
    return this.#db.transaction().execute(async (tx) => {
      const row = await update(tx);
      if (!row) return undefined;
      await tx.deleteFrom(metaTable).where("record_id", "=", id).execute();
      const meta = metadataRows(id, metadata);
      if (meta.length > 0) await tx.insertInto(metaTable).values(meta).execute();
      return row;
    });
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
      .returning("tokens")
      .executeTakeFirstOrThrow();
    const tokens = Number(row.tokens);
    return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / ratePerSec);
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
  for (const [key, value] of Object.entries(q.metadata ?? {})) {
    conds.push(
      eb(
        "id",
        "in",
        eb.selectFrom(metaTable).select("record_id").where("key", "=", key).where("value", "=", value),
      ),
    );
  }
  return conds as ReturnType<SandboxEb>[];
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
