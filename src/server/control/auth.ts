/**
 * API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY` (what SWE-ReX clients send). Every configured
 * key is compared in constant time (digests of equal length, every key checked), and a request is
 * identified by its key's fingerprint, never by the key itself.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { keyFingerprint } from "../../controlplane/index.js";

export type KeyVerdict = { owner: string } | { missing: true } | { invalid: true };

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export function apiKeysChecker(keys: readonly string[]): (headers: IncomingHttpHeaders) => KeyVerdict {
  const known = keys.map((k) => ({ digest: digest(k), owner: keyFingerprint(k) }));
  return (headers) => {
    const given = presentedKey(headers);
    if (given === undefined) return { missing: true };
    const d = digest(given);
    let owner: string | undefined;
    for (const k of known) if (timingSafeEqual(d, k.digest)) owner = k.owner;
    return owner ? { owner } : { invalid: true };
  };
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  const key = headers["x-api-key"];
  return Array.isArray(key) ? key[0] : key;
}
