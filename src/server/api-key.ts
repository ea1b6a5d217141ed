/** `X-API-Key` checking for the runtime server (SWE-ReX `server.py` auth middleware). */
import { createHash, timingSafeEqual } from "node:crypto";

export type ApiKeyVerdict = "ok" | "missing" | "invalid";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Returns a checker for one expected token. An empty token turns auth off (what AGS sandboxes run with).
 * Comparing fixed-length digests keeps the time independent of how much of the key matched.
 */
export function apiKeyChecker(token: string): (header: string | string[] | undefined) => ApiKeyVerdict {
  if (token === "") return () => "ok";
  const expected = digest(token);
  return (header) => {
    const given = Array.isArray(header) ? header[0] : header;
    if (given === undefined) return "missing";
    return timingSafeEqual(digest(given), expected) ? "ok" : "invalid";
  };
}
