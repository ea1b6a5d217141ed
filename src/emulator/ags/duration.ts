import { AgsApiRules } from "../../deployment/ags/index.js";
import { AgsApiError } from "./api-error.js";

export const { MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } = AgsApiRules;

/**
 * Parses an AGS duration string (`"300s"`, `"5m"`, `"1h"`) into seconds, enforcing 30 s..24 h.
 * Bad format or range → `InvalidParameterValue.Timeout` (the code the real API uses for both).
 */
export function parseAgsDuration(value: string, field = "Timeout"): number {
  const seconds = AgsApiRules.durationSeconds(value);
  if (seconds === undefined) {
    throw new AgsApiError(
      "InvalidParameterValue.Timeout",
      `The value of \`${field}\` is invalid: "${value}". Use a number followed by s, m or h, e.g. 300s, 5m, 1h.`,
    );
  }
  if (seconds < MIN_TIMEOUT_SECONDS || seconds > MAX_TIMEOUT_SECONDS) {
    throw new AgsApiError(
      "InvalidParameterValue.Timeout",
      `The value of \`${field}\` must be between ${MIN_TIMEOUT_SECONDS}s and 24h, got "${value}".`,
    );
  }
  return seconds;
}
