/**
 * The tables as Kysely sees them (rows as stored, not records as returned: JSON columns are text, see
 * codec.ts). Column types are chosen to mean the same on SQLite and PostgreSQL: `text`, `bigint` (epoch ms,
 * versions; SQLite gives it INTEGER affinity), `double precision` (token counts; REAL on SQLite).
 */

export interface SandboxRow {
  id: string;
  owner: string;
  state: string;
  backend: string;
  deployment: string;
  handle: string | null;
  metadata: string;
  pool: string | null;
  host: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  stopped_at: number | null;
  expires_at: number | null;
  version: number;
  /** Added by 0002_sandbox_starter. */
  starter: string | null;
}

export interface RolloutRow {
  id: string;
  owner: string;
  state: string;
  request: string;
  result: string | null;
  sandbox_id: string | null;
  metadata: string;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  version: number;
}

/**
 * One row per metadata key of a record: the index behind `?metadata.KEY=VALUE` filters (the record's own
 * `metadata` column stays the copy that is read). Same shape for sandboxes and rollouts.
 */
export interface MetadataRow {
  record_id: string;
  key: string;
  value: string;
}

export interface IdempotencyRow {
  owner: string;
  key: string;
  kind: string;
  request_hash: string;
  resource_id: string;
  created_at: number;
}

export interface DutyRow {
  name: string;
  holder: string;
  expires_at: number;
}

export interface RateBucketRow {
  name: string;
  /** May go negative: tokens promised to callers that were told to wait. */
  tokens: number;
  /** Epoch ms of the last refill. */
  updated_at: number;
}

export interface Tables {
  sandboxes: SandboxRow;
  sandbox_metadata: MetadataRow;
  rollouts: RolloutRow;
  rollout_metadata: MetadataRow;
  idempotency_keys: IdempotencyRow;
  duties: DutyRow;
  rate_buckets: RateBucketRow;
}
