/**
 * Between records (what the Store interface speaks) and rows (what the tables hold): JSON values are text
 * on both databases (one codec, no dialect-specific JSON types), timestamps are epoch ms numbers, and page
 * cursors are opaque base64url of the last row's (created_at, id).
 */
import { InvalidCursorError } from "./errors.js";
import type { RolloutRow, SandboxRow } from "./schema.js";
import type {
  Json,
  NewRollout,
  NewSandbox,
  RolloutPatch,
  RolloutRecord,
  RolloutState,
  SandboxError,
  SandboxPatch,
  SandboxRecord,
  SandboxState,
} from "./types.js";

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

export function decodeJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

function encodeNullableJson(value: unknown): string | null {
  return value === null || value === undefined ? null : encodeJson(value);
}

function decodeNullableJson<T>(text: string | null): T | null {
  return text === null ? null : decodeJson<T>(text);
}

/** Columns a patch may set, and how each is encoded. */
type ColumnCodec = "plain" | "json" | "nullableJson";

function encodePatch<P extends object>(
  patch: P,
  columns: Record<string, ColumnCodec>,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const codec = columns[key];
    // Partial<>: an absent key and `key: undefined` both mean "leave as is".
    if (codec === undefined || value === undefined) continue;
    row[key] = codec === "plain" ? value : codec === "json" ? encodeJson(value) : encodeNullableJson(value);
  }
  return row;
}

const SANDBOX_PATCH_COLUMNS: Record<keyof SandboxPatch, ColumnCodec> = {
  owner: "plain",
  state: "plain",
  backend: "plain",
  deployment: "json",
  handle: "nullableJson",
  metadata: "json",
  pool: "plain",
  host: "plain",
  starter: "plain",
  error: "nullableJson",
  started_at: "plain",
  stopped_at: "plain",
  expires_at: "plain",
};

const ROLLOUT_PATCH_COLUMNS: Record<keyof RolloutPatch, ColumnCodec> = {
  state: "plain",
  request: "json",
  result: "nullableJson",
  sandbox_id: "plain",
  metadata: "json",
  error: "nullableJson",
  started_at: "plain",
  finished_at: "plain",
};

export function sandboxToRow(rec: NewSandbox, version: number): SandboxRow {
  return {
    id: rec.id,
    owner: rec.owner,
    state: rec.state,
    backend: rec.backend,
    deployment: encodeJson(rec.deployment),
    handle: encodeNullableJson(rec.handle),
    metadata: encodeJson(rec.metadata ?? {}),
    pool: rec.pool ?? null,
    host: rec.host ?? null,
    starter: rec.starter ?? null,
    error: encodeNullableJson(rec.error),
    created_at: rec.created_at,
    started_at: rec.started_at ?? null,
    stopped_at: rec.stopped_at ?? null,
    expires_at: rec.expires_at ?? null,
    version,
  };
}

export function rowToSandbox(row: SandboxRow): SandboxRecord {
  return {
    id: row.id,
    owner: row.owner,
    state: row.state as SandboxState,
    backend: row.backend,
    deployment: decodeJson<Json>(row.deployment),
    handle: decodeNullableJson<Json>(row.handle),
    metadata: decodeJson<Record<string, string>>(row.metadata),
    pool: row.pool,
    host: row.host,
    starter: row.starter,
    error: decodeNullableJson<SandboxError>(row.error),
    created_at: row.created_at,
    started_at: row.started_at,
    stopped_at: row.stopped_at,
    expires_at: row.expires_at,
    version: row.version,
  };
}

export function sandboxPatchToRow(patch: SandboxPatch): Partial<SandboxRow> {
  return encodePatch(patch, SANDBOX_PATCH_COLUMNS) as Partial<SandboxRow>;
}

export function rolloutToRow(rec: NewRollout, version: number): RolloutRow {
  return {
    id: rec.id,
    owner: rec.owner,
    state: rec.state,
    request: encodeJson(rec.request),
    result: encodeNullableJson(rec.result),
    sandbox_id: rec.sandbox_id ?? null,
    metadata: encodeJson(rec.metadata ?? {}),
    error: encodeNullableJson(rec.error),
    created_at: rec.created_at,
    started_at: rec.started_at ?? null,
    finished_at: rec.finished_at ?? null,
    version,
  };
}

export function rowToRollout(row: RolloutRow): RolloutRecord {
  return {
    id: row.id,
    owner: row.owner,
    state: row.state as RolloutState,
    request: decodeJson<Json>(row.request),
    result: decodeNullableJson<Json>(row.result),
    sandbox_id: row.sandbox_id,
    metadata: decodeJson<Record<string, string>>(row.metadata),
    error: decodeNullableJson<SandboxError>(row.error),
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    version: row.version,
  };
}

export function rolloutPatchToRow(patch: RolloutPatch): Partial<RolloutRow> {
  return encodePatch(patch, ROLLOUT_PATCH_COLUMNS) as Partial<RolloutRow>;
}

/** Where a page ended: the (created_at, id) of its last row. */
export interface CursorPosition {
  created_at: number;
  id: string;
}

export function encodeCursor(pos: CursorPosition): string {
  return Buffer.from(JSON.stringify([pos.created_at, pos.id]), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== "string"
  ) {
    throw new InvalidCursorError();
  }
  return { created_at: parsed[0] as number, id: parsed[1] };
}
