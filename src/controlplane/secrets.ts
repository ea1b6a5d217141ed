/**
 * What of a deployment config the API may show: the config with every secret-looking field removed (at any
 * depth: AGS `secret_key`, a docker `env` entry named `GITHUB_TOKEN`, ...). The service keeps secrets only
 * in memory (its default config) and in backend handles, which the API never returns.
 */
import type { Json } from "../store/types.js";

/** Field names whose values are credentials. Matched case-insensitively against the whole key. */
const SECRET_KEY = /(secret|token|password|passwd|credential|api_?key|private_?key|access_?key)/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A deep copy of `value` without secret-named fields. */
export function withoutSecrets(value: unknown): Json {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || isSecretKey(k)) continue;
      out[k] = withoutSecrets(v);
    }
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) return null;
  return (value ?? null) as Json;
}
