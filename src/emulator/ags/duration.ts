import { AgsApiError } from "./api-error.js";

const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;
export const MIN_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 24 * 3600;

/**
 * Parses an AGS duration string (`"300s"`, `"5m"`, `"1h"`) into seconds, enforcing 30 s..24 h.
 * Bad format or range → `InvalidParameterValue.Timeout` (the code the real API uses for both).
 */
export function parseAgsDuration(value: string, field = "Timeout"): number {
  const m = /^(\d+)(s|m|h)$/.exec(value);
  if (!m) {
    throw new AgsApiError(
      "InvalidParameterValue.Timeout",
      `The value of \`${field}\` is invalid: "${value}". Use a number followed by s, m or h, e.g. 300s, 5m, 1h.`,
    );
  }
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  if (seconds < MIN_TIMEOUT_SECONDS || seconds > MAX_TIMEOUT_SECONDS) {
    throw new AgsApiError(
      "InvalidParameterValue.Timeout",
      `The value of \`${field}\` must be between ${MIN_TIMEOUT_SECONDS}s and 24h, got "${value}".`,
    );
  }
  return seconds;
}
