/**
 * Secret redaction shared by every logger of the tree (swerex-remote, the AGS room, the model proxy, the
 * AGS emulator's warnings). pino's own `redact` needs exact paths, so `X_API_Key: secret` slipped through
 * (issue 13 item 9); here any header whose name looks like a key, token, secret, password, cookie or
 * authorization is blanked, whatever its case or separators, wherever a `headers` object sits in a log line.
 */
export const REDACTED = "[redacted]";

/** Header-name words that mark a secret, matched on the name lower-cased with separators removed. */
const SECRET_NAME = /key|token|secret|passw|auth|cookie|credential|signature/;

/** True for header names such as `X-API-Key`, `x_api_key`, `Authorization`, `Cookie`, `X-Access-Token`. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/[^a-z0-9]/g, ""));
}

/** How deep a log object is searched for `headers`: log lines are shallow; this bounds a hostile one. */
const MAX_DEPTH = 6;

function redactHeaderObject(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = isSecretName(k) ? REDACTED : v;
  return out;
}

function walk(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
  // Errors, buffers and the like are left to pino's serializers.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    let next: unknown;
    if (k.toLowerCase() === "headers" && v !== null && typeof v === "object" && !Array.isArray(v)) {
      next = redactHeaderObject(v as Record<string, unknown>);
    } else {
      next = walk(v, depth + 1);
    }
    if (next !== v) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[k] = next;
    }
  }
  return copy ?? value;
}

/** `obj` with every secret-looking header blanked (a copy where something changed; `obj` is untouched). */
export function redactHeaders<T>(obj: T): T {
  return walk(obj, 0) as T;
}

/**
 * pino options that apply `redactHeaders` to every log line's object; `paths` adds pino's exact-path
 * redaction for fields that are not headers (a logged `secretKey`). Spread into `pino({...})`.
 */
export function redactingLoggerOptions(paths: string[] = []): {
  formatters: { log<T extends object>(obj: T): T };
  redact?: { paths: string[]; censor: string };
} {
  return {
    formatters: { log: <T extends object>(obj: T): T => redactHeaders(obj) },
    ...(paths.length > 0 ? { redact: { paths, censor: REDACTED } } : {}),
  };
}
