/** Identifiers the service hands out or stores: sandbox ids and the non-secret fingerprint of an API key. */
import { createHash, randomBytes } from "node:crypto";

/** `sbx-` + 20 lowercase base32 characters (100 random bits): unguessable, URL- and label-safe. */
export function newSandboxId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = randomBytes(20);
  let out = "sbx-";
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

export const SANDBOX_ID_PATTERN = /^sbx-[a-z2-7]{20}$/;

/**
 * The owner column: `key-` + the first 16 hex digits of SHA-256(key). Stable across restarts, useless for
 * recovering the key, and distinct enough that two keys of one deployment never collide in practice.
 */
export function keyFingerprint(apiKey: string): string {
  return `key-${createHash("sha256").update(apiKey, "utf8").digest("hex").slice(0, 16)}`;
}

/** A stable hash of a JSON value (object keys sorted), for "same Idempotency-Key, same body". */
export function requestHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value), "utf8").digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
