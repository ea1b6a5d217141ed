/**
 * The store contract: the control plane's registry of sandboxes, rollouts, idempotency keys and duty
 * leases. The store is the source of truth; every method resolves only once the change is durable, so a
 * caller that answers a request after `await store.x()` never answers with something a crash could forget.
 * Implementations: SQLite (a file, via libsql) and PostgreSQL (pg), one Kysely query layer and one set of
 * migrations. The store knows nothing of HTTP or of backends: configs and handles are opaque JSON here.
 */

export const SANDBOX_STATES = [
  "queued",
  "starting",
  "running",
  "paused",
  "stopping",
  "stopped",
  "failed",
  "lost",
] as const;
export type SandboxState = (typeof SANDBOX_STATES)[number];

/** JSON-serialisable value (what configs, handles and results are stored as). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SandboxError {
  class: string;
  message: string;
}

export interface SandboxRecord {
  /** `sbx-...` */
  id: string;
  /** Which API key owns it: a stable, non-secret fingerprint of the key, never the key itself. */
  owner: string;
  state: SandboxState;
  /** Deployment type (`docker`, `tencentags`, `local`, `dummy`, ...). */
  backend: string;
  /** The deployment config with secrets removed (what the API shows). */
  deployment: Json;
  /**
   * What the service needs to reach or re-adopt the backend resource (container id and port, AGS instance id,
   * the sandbox's own auth token, ...). May hold secrets: never returned by the API.
   */
  handle: Json | null;
  metadata: Record<string, string>;
  /** Pool name when the sandbox belongs (or belonged) to a warm pool; null otherwise. */
  pool: string | null;
  /** Docker host name (fleet placement) or null. */
  host: string | null;
  /**
   * The replica (its per-life id) that queued or started the sandbox, or is stopping it, whose liveness
   * lease says whether that start or stop is still being run; null for records made outside a `swerex serve`
   * replica, and for a `stopping` record whose stop failed (nobody runs it). Internal: not in the API.
   */
  starter: string | null;
  error: SandboxError | null;
  /** Epoch milliseconds; null where not reached yet. */
  created_at: number;
  started_at: number | null;
  stopped_at: number | null;
  expires_at: number | null;
  /** Increases by one with every write; `updateSandbox` with `expectVersion` is a compare-and-set. */
  version: number;
}

export type NewSandbox = Omit<SandboxRecord, "version">;

/** `owner` changes once at most: a warm pool's sandbox handed out to the key that claimed it. */
export type SandboxPatch = Partial<Omit<SandboxRecord, "id" | "created_at" | "version">>;

export interface SandboxQuery {
  owner?: string;
  states?: SandboxState[];
  backend?: string;
  pool?: string | null;
  host?: string;
  /** Every key/value must match exactly. */
  metadata?: Record<string, string>;
  /** Only records whose `expires_at` is at or before this (epoch ms). */
  expiresBefore?: number;
  /** Page size: default 100, at most 1000 (larger values are clamped). */
  limit?: number;
  /**
   * Opaque cursor from a previous page's `nextCursor`. Pages are in (created_at, id) order. A cursor the
   * store did not make is an `InvalidCursorError` (errors.ts).
   */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SandboxTally {
  state: SandboxState;
  backend: string;
  count: number;
}

export interface IdempotencyRecord {
  /** Owner fingerprint + the client's `Idempotency-Key` header (keys are per owner). */
  owner: string;
  key: string;
  /** What kind of object the key created (`sandbox`, `rollout`, ...). */
  kind: string;
  /** Hash of the request body: the same key with another body is a 422. */
  request_hash: string;
  /** The id of the object created. */
  resource_id: string;
  created_at: number;
}

export interface OnceResult<T> {
  /** True only for the call whose key was new (it inserted the record). */
  created: boolean;
  /** The stored key: compare its `request_hash` with the request's (another body is a 422). */
  idempotency: IdempotencyRecord;
  record: T | undefined;
}

export const ROLLOUT_STATES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export interface RolloutRecord {
  /** `rol-...` */
  id: string;
  owner: string;
  state: RolloutState;
  /** The request as accepted (secrets removed). */
  request: Json;
  /** The result record once done. */
  result: Json | null;
  sandbox_id: string | null;
  metadata: Record<string, string>;
  error: SandboxError | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  version: number;
}

export type NewRollout = Omit<RolloutRecord, "version">;
export type RolloutPatch = Partial<Omit<RolloutRecord, "id" | "owner" | "created_at" | "version">>;

export interface RolloutQuery {
  owner?: string;
  states?: RolloutState[];
  metadata?: Record<string, string>;
  limit?: number;
  cursor?: string;
}

export interface Store {
  /** `sqlite` or `postgres`. */
  readonly kind: "sqlite" | "postgres";
  /** Creates tables / applies pending migrations. Safe to call from several replicas at once. */
  migrate(): Promise<void>;
  /** Cheap round trip, for `/readyz`. Throws when unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;

  insertSandbox(rec: NewSandbox): Promise<SandboxRecord>;
  getSandbox(id: string): Promise<SandboxRecord | undefined>;
  /**
   * Applies `patch` and bumps `version`. With `expectVersion`, only when the stored version matches
   * (returns undefined when it does not, or when the id is unknown).
   */
  updateSandbox(id: string, patch: SandboxPatch, expectVersion?: number): Promise<SandboxRecord | undefined>;
  listSandboxes(q: SandboxQuery): Promise<Page<SandboxRecord>>;
  /** Counts by state (and optionally owner/backend), for limits and metrics. */
  countSandboxes(q: Omit<SandboxQuery, "limit" | "cursor">): Promise<number>;
  /** How many sandboxes match `q`, per (state, backend) pair that has any: one query for the metrics gauge. */
  tallySandboxes(q?: Omit<SandboxQuery, "limit" | "cursor">): Promise<SandboxTally[]>;
  /**
   * Takes the oldest sandbox matching `q` and applies `patch` (bumping `version`) in one statement, skipping
   * records another replica is claiming at that moment: concurrent claimers never get the same record as
   * long as `patch` makes it stop matching `q` (a warm pool's hand-out, the admission queue's next entry).
   * Undefined when nothing matches.
   */
  claimSandbox(
    q: Omit<SandboxQuery, "limit" | "cursor">,
    patch: SandboxPatch,
  ): Promise<SandboxRecord | undefined>;

  /**
   * Records `rec` unless (owner, key) exists; returns the stored record either way, with `created: true`
   * only for the caller whose insert won. Atomic across replicas.
   */
  putIdempotency(rec: IdempotencyRecord): Promise<{ record: IdempotencyRecord; created: boolean }>;
  getIdempotency(owner: string, key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * `putIdempotency` and `insertSandbox` in one transaction, so no crash can leave a key without its
   * sandbox: when (owner, key) is new, records the key with `resource_id = rec.id`, inserts `rec` and
   * answers `created: true`; otherwise writes nothing and answers the stored key and the sandbox it names
   * (undefined when that record does not exist). Of concurrent calls with one key, exactly one creates.
   */
  insertSandboxOnce(
    rec: NewSandbox,
    idem: Omit<IdempotencyRecord, "resource_id">,
  ): Promise<OnceResult<SandboxRecord>>;
  /** Drops keys older than `before` (epoch ms); returns how many. */
  pruneIdempotency(before: number): Promise<number>;

  insertRollout(rec: NewRollout): Promise<RolloutRecord>;
  getRollout(id: string): Promise<RolloutRecord | undefined>;
  updateRollout(id: string, patch: RolloutPatch, expectVersion?: number): Promise<RolloutRecord | undefined>;
  listRollouts(q: RolloutQuery): Promise<Page<RolloutRecord>>;
  countRollouts(q: Omit<RolloutQuery, "limit" | "cursor">): Promise<number>;
  /** `insertSandboxOnce` for rollouts. */
  insertRolloutOnce(
    rec: NewRollout,
    idem: Omit<IdempotencyRecord, "resource_id">,
  ): Promise<OnceResult<RolloutRecord>>;

  /**
   * Leader election for background duties shared by replicas: takes or renews the named lease for `holder`
   * until `now + ttlMs` when it is free, expired, or already held by `holder`. True when `holder` has it.
   * `now` (epoch ms, default the caller's clock): replicas' clocks must agree to well within `ttlMs`.
   */
  acquireDuty(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean>;
  releaseDuty(name: string, holder: string): Promise<void>;
  /** Who holds the named lease and until when (expired leases included); undefined when never taken. */
  getDuty(name: string): Promise<DutyLease | undefined>;

  /**
   * Shared token bucket (an account's API rate, shared by every replica): takes one token from `bucket`,
   * which refills at `ratePerSec` up to `burst`. Returns how many ms after `now` the caller's slot is
   * (0 = go now; slots are on the bucket's clock, the latest `now` it has seen). Tokens are reserved even when the answer is a wait, so concurrent takers get distinct
   * slots and together never exceed `burst + ratePerSec * t` calls in any `t` seconds. Atomic across replicas.
   */
  takeRateToken(bucket: string, ratePerSec: number, burst: number, now?: number): Promise<number>;
}

export interface DutyLease {
  name: string;
  holder: string;
  /** Epoch ms. */
  expires_at: number;
}
