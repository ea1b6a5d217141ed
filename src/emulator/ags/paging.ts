import { createHash } from "node:crypto";
import { AgsApiError } from "./api-error.js";

export interface ApiFilter {
  Name: string;
  Values: string[];
}

/** Filters AND with each other; the values inside one filter OR. Unknown names are rejected, as the API does. */
export function applyFilters<T>(
  items: T[],
  filters: ApiFilter[] | undefined,
  fields: Record<string, (item: T) => string | undefined>,
): T[] {
  if (!filters || filters.length === 0) return items;
  for (const f of filters) {
    if (!(f.Name in fields)) {
      throw new AgsApiError(
        "InvalidParameterValue",
        `Filter name \`${f.Name}\` is not supported; supported: ${Object.keys(fields).join(", ")}.`,
      );
    }
  }
  return items.filter((item) =>
    filters.every((f) => {
      const get = fields[f.Name] as (item: T) => string | undefined;
      const v = get(item);
      return v !== undefined && f.Values.includes(v);
    }),
  );
}

/** The items whose id is in `ids` (all of them when `ids` is not given); the API takes at most 100 ids. */
export function selectByIds<T>(
  items: T[],
  ids: string[] | undefined,
  field: string,
  idOf: (item: T) => string,
): T[] {
  if (!ids) return items;
  if (ids.length > 100) {
    throw new AgsApiError(`InvalidParameterValue.${field}`, `At most 100 \`${field}\` may be given.`);
  }
  const wanted = new Set(ids);
  return items.filter((item) => wanted.has(idOf(item)));
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

/** Offset/Limit paging: Limit defaults to 20 and may not exceed 100. */
export function offsetPage<T>(items: T[], offset = 0, limit = DEFAULT_LIMIT): T[] {
  if (limit > MAX_LIMIT) {
    throw new AgsApiError(
      "InvalidParameterValue",
      `The value of \`Limit\` must be at most ${MAX_LIMIT}, got ${limit}.`,
    );
  }
  return items.slice(offset, offset + limit);
}

interface NextTokenPayload {
  o: number;
  q: string;
  t: number;
}

const TOKEN_LIFETIME_MS = 24 * 3600_000;

/** Fingerprint of the query parameters a NextToken is bound to ("other params must stay the same"). */
export function queryFingerprint(query: unknown): string {
  return createHash("sha256").update(JSON.stringify(query)).digest("base64url").slice(0, 16);
}

export function encodeNextToken(offset: number, fingerprint: string, nowMs: number): string {
  const payload: NextTokenPayload = { o: offset, q: fingerprint, t: nowMs };
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

/** Decodes a NextToken; a foreign, tampered, expired (24 h) or re-parameterised token is InvalidParameterValue. */
export function decodeNextToken(token: string, fingerprint: string, nowMs: number): number {
  const invalid = () =>
    new AgsApiError("InvalidParameterValue", "The value of `NextToken` is invalid or expired.");
  let payload: NextTokenPayload;
  try {
    payload = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as NextTokenPayload;
  } catch {
    throw invalid();
  }
  if (
    typeof payload?.o !== "number" ||
    payload.q !== fingerprint ||
    typeof payload.t !== "number" ||
    nowMs - payload.t > TOKEN_LIFETIME_MS
  ) {
    throw invalid();
  }
  return payload.o;
}
