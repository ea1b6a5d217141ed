/**
 * The one set of migrations, for SQLite and PostgreSQL alike: written with Kysely's schema builder and
 * portable column types only, applied by Kysely's Migrator. Migrations are append-only: never edit one that
 * has shipped, add the next (`0002_...`). Applied migrations are recorded in `swerex_migration`.
 *
 * Concurrency: on PostgreSQL the Migrator holds a session advisory lock and runs the pending migrations in
 * one transaction, so replicas starting together apply each migration exactly once and the losers find
 * nothing to do; creating its own bookkeeping tables tolerates the same race. SQLite is one process.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";

/** Our bookkeeping table names (Kysely's defaults are `kysely_migration*`). */
export const MIGRATION_TABLE = "swerex_migration";
export const MIGRATION_LOCK_TABLE = "swerex_migration_lock";

const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("sandboxes")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("backend", "text", (c) => c.notNull())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("handle", "text")
      .addColumn("metadata", "text", (c) => c.notNull())
      .addColumn("pool", "text")
      .addColumn("host", "text")
      .addColumn("error", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("stopped_at", "bigint")
      .addColumn("expires_at", "bigint")
      .addColumn("version", "bigint", (c) => c.notNull())
      .execute();
    // Pages are in (created_at, id) order, overall and per owner (the API lists one key's sandboxes).
    await db.schema.createIndex("sandboxes_created").on("sandboxes").columns(["created_at", "id"]).execute();
    await db.schema
      .createIndex("sandboxes_owner_created")
      .on("sandboxes")
      .columns(["owner", "created_at", "id"])
      .execute();
    // Counts per key (limits) and per state (metrics, the total limit); the reaper's "active and expired".
    await db.schema
      .createIndex("sandboxes_owner_state")
      .on("sandboxes")
      .columns(["owner", "state"])
      .execute();
    await db.schema
      .createIndex("sandboxes_state_expires")
      .on("sandboxes")
      .columns(["state", "expires_at"])
      .execute();
    await db.schema.createIndex("sandboxes_expires").on("sandboxes").column("expires_at").execute();
    await db.schema.createIndex("sandboxes_pool").on("sandboxes").columns(["pool", "state"]).execute();
    await db.schema.createIndex("sandboxes_host").on("sandboxes").columns(["host", "state"]).execute();

    await db.schema
      .createTable("sandbox_metadata")
      .addColumn("record_id", "text", (c) => c.notNull().references("sandboxes.id").onDelete("cascade"))
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("sandbox_metadata_pk", ["record_id", "key"])
      .execute();
    await db.schema
      .createIndex("sandbox_metadata_kv")
      .on("sandbox_metadata")
      .columns(["key", "value", "record_id"])
      .execute();

    await db.schema
      .createTable("rollouts")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("request", "text", (c) => c.notNull())
      .addColumn("result", "text")
      .addColumn("sandbox_id", "text")
      .addColumn("metadata", "text", (c) => c.notNull())
      .addColumn("error", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("finished_at", "bigint")
      .addColumn("version", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("rollouts_created").on("rollouts").columns(["created_at", "id"]).execute();
    await db.schema
      .createIndex("rollouts_owner_created")
      .on("rollouts")
      .columns(["owner", "created_at", "id"])
      .execute();
    await db.schema.createIndex("rollouts_owner_state").on("rollouts").columns(["owner", "state"]).execute();
    await db.schema.createIndex("rollouts_state").on("rollouts").column("state").execute();

    await db.schema
      .createTable("rollout_metadata")
      .addColumn("record_id", "text", (c) => c.notNull().references("rollouts.id").onDelete("cascade"))
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("rollout_metadata_pk", ["record_id", "key"])
      .execute();
    await db.schema
      .createIndex("rollout_metadata_kv")
      .on("rollout_metadata")
      .columns(["key", "value", "record_id"])
      .execute();

    await db.schema
      .createTable("idempotency_keys")
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("request_hash", "text", (c) => c.notNull())
      .addColumn("resource_id", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("idempotency_keys_pk", ["owner", "key"])
      .execute();
    await db.schema
      .createIndex("idempotency_keys_created")
      .on("idempotency_keys")
      .column("created_at")
      .execute();

    await db.schema
      .createTable("duties")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("rate_buckets")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("tokens", "double precision", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },
};

/**
 * Which replica runs a sandbox's start (`starter`, its per-life id): a `queued`/`starting` record whose
 * starter's liveness lease expired is a start nobody will finish (controlplane/stale-starts.ts).
 */
const sandboxStarter: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("sandboxes").addColumn("starter", "text").execute();
  },
};

/** In order; the names sort in the order they apply. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "0001_initial": initial,
  "0002_sandbox_starter": sandboxStarter,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

/** Applies every pending migration; throws the first failure (the failed migration's changes roll back on PG). */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`store migration ${failed ?? "(bookkeeping)"} failed: ${reason}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Names of the migrations applied to this database, in order (for tests and `swerex serve` start-up). */
export async function appliedMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const rows = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}
