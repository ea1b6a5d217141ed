/**
 * A bounded generative HTTP fuzzer for our servers (issue 13): valid request bodies, mutated with a seeded
 * PRNG (fields' types swapped, fields dropped or added, huge strings, deep nesting, non-object JSON, wrong
 * content types, random bytes, empty bodies), sent for a fixed time per route over real HTTP. It reports
 * every answer the caller does not accept (by default: any 5xx other than the protocol's 511) and any
 * transport failure, with the request that caused it, so a failure can be replayed.
 */
import { request } from "undici";

/** mulberry32: small, fast and deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** A huge string: big enough to hurt a server that copies or echoes it carelessly. */
const HUGE_CHARS = 1024 * 1024;
/** Deep enough to overflow a naive recursive walker; sent as text (JSON.stringify would overflow here). */
const DEEP_LEVELS = 10_000;

function randomScalar(rng: Rng): unknown {
  return pick(rng, [
    () => null,
    () => true,
    () => Math.floor(rng() * 2 ** 40) * (rng() < 0.5 ? -1 : 1),
    () => rng() * 1e308,
    () => "",
    () => "x".repeat(Math.floor(rng() * 64)),
    () => "\u0000\ud800\u202e",
    () => [],
    () => ({}),
    () => [1, "two", null],
    () => ({ nested: { deeper: [rng()] } }),
  ])();
}

/** One mutation of a JSON object, as text (so that deep nesting and invalid JSON are possible). */
export function mutateJson(valid: Record<string, unknown>, rng: Rng): string {
  const obj: Record<string, unknown> = { ...valid };
  const keys = Object.keys(obj);
  const op = Math.floor(rng() * 10);
  switch (op) {
    case 0: // a field's type swapped
      if (keys.length > 0) obj[pick(rng, keys)] = randomScalar(rng);
      return JSON.stringify(obj);
    case 1: // a field dropped
      if (keys.length > 0) delete obj[pick(rng, keys)];
      return JSON.stringify(obj);
    case 2: // a field added
      obj[pick(rng, ["extra", "__proto__", "constructor", "x".repeat(200), ""])] = randomScalar(rng);
      return JSON.stringify(obj);
    case 3: // a huge string
      obj[keys.length > 0 ? pick(rng, keys) : "huge"] = "A".repeat(HUGE_CHARS);
      return JSON.stringify(obj);
    case 4: {
      // deep nesting in a field
      const key = keys.length > 0 ? pick(rng, keys) : "deep";
      const inner = JSON.stringify({ ...obj, [key]: "@@DEEP@@" });
      const open = rng() < 0.5 ? "[" : '{"a":';
      const close = open === "[" ? "]" : "}";
      return inner.replace('"@@DEEP@@"', `${open.repeat(DEEP_LEVELS)}1${close.repeat(DEEP_LEVELS)}`);
    }
    case 5: // not an object
      return JSON.stringify(pick(rng, [[obj], 42, "string", null, true, []]));
    case 6: // broken JSON
      return JSON.stringify(obj).slice(0, Math.max(1, Math.floor(rng() * JSON.stringify(obj).length)));
    case 7: {
      // two mutations in a row (the first one's result, when it is still an object)
      let first: unknown;
      const text = mutateJson(valid, rng);
      try {
        // A deep or huge first result stays a single mutation (stringifying it again would overflow).
        first = text.length < 4096 ? JSON.parse(text) : {};
      } catch {
        first = {};
      }
      const base = first !== null && typeof first === "object" && !Array.isArray(first) ? first : {};
      return mutateJson(base as Record<string, unknown>, rng);
    }
    default:
      return JSON.stringify(obj);
  }
}

export interface FuzzRoute {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  /** A valid body for the route (undefined: none); mutations start from it. */
  body?: Record<string, unknown>;
  /** Extra headers for every request (auth). */
  headers?: Record<string, string>;
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/octet-stream",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/vnd.api+json",
  "",
];

/** One request for `route`: mostly a mutated valid body, sometimes random bytes or a wrong content type. */
export function generateRequest(route: FuzzRoute, rng: Rng): FuzzRequest {
  const headers: Record<string, string> = { ...route.headers };
  const r = rng();
  let body: Buffer | undefined;
  if (r < 0.1) {
    body = Buffer.from(Array.from({ length: Math.floor(rng() * 4096) }, () => Math.floor(rng() * 256)));
    headers["content-type"] = pick(rng, CONTENT_TYPES);
  } else if (r < 0.15) {
    body = Buffer.alloc(0);
    headers["content-type"] = pick(rng, CONTENT_TYPES);
  } else if (route.body !== undefined || rng() < 0.3) {
    body = Buffer.from(mutateJson(route.body ?? {}, rng));
    headers["content-type"] = rng() < 0.8 ? "application/json" : pick(rng, CONTENT_TYPES);
  }
  if (headers["content-type"] === "") delete headers["content-type"];
  const method = rng() < 0.05 ? pick(rng, ["GET", "POST", "PUT", "DELETE", "PATCH"]) : route.method;
  return { method, path: route.path, headers, body };
}

export interface FuzzFailure {
  request: { method: string; path: string; headers: Record<string, string>; bodyPreview: string };
  status?: number;
  error?: string;
  response?: string;
}

export interface FuzzReport {
  sent: number;
  statuses: Record<number, number>;
  failures: FuzzFailure[];
}

export interface FuzzOptions {
  baseUrl: string;
  routes: FuzzRoute[];
  seed: number;
  /** Time spent on each route. */
  msPerRoute: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Last step before sending (e.g. sign the request). */
  finalize?: (req: FuzzRequest) => FuzzRequest;
  /** Statuses that count as failures. Default: >= 500 except 511. */
  isFailure?: (status: number) => boolean;
  /** Per-request deadline. Default 30 s. */
  requestTimeoutMs?: number;
}

const defaultIsFailure = (status: number) => status >= 500 && status !== 511;

/** Fuzzes every route for `msPerRoute`; never throws for what the server does, it reports it. */
export async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const rng = seededRandom(opts.seed);
  const report: FuzzReport = { sent: 0, statuses: {}, failures: [] };
  const isFailure = opts.isFailure ?? defaultIsFailure;
  for (const route of opts.routes) {
    const until = Date.now() + opts.msPerRoute;
    const worker = async () => {
      while (Date.now() < until) {
        let req = generateRequest(route, rng);
        if (opts.finalize) req = opts.finalize(req);
        const describe = {
          method: req.method,
          path: req.path,
          headers: req.headers,
          bodyPreview: (req.body ?? Buffer.alloc(0)).subarray(0, 200).toString("latin1"),
        };
        report.sent++;
        try {
          const res = await request(`${opts.baseUrl}${req.path}`, {
            method: req.method as "GET",
            headers: req.headers,
            body: req.method === "GET" ? undefined : req.body,
            signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 30_000),
          });
          const text = await res.body.text();
          report.statuses[res.statusCode] = (report.statuses[res.statusCode] ?? 0) + 1;
          if (isFailure(res.statusCode)) {
            report.failures.push({ request: describe, status: res.statusCode, response: text.slice(0, 500) });
          }
        } catch (err) {
          report.failures.push({ request: describe, error: String(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  }
  return report;
}

/** A short summary for a test's log: requests sent and statuses seen. */
export function summarize(name: string, r: FuzzReport): string {
  const statuses = Object.entries(r.statuses)
    .map(([s, n]) => `${s}x${n}`)
    .join(" ");
  return `${name}: ${r.sent} requests, statuses ${statuses}, ${r.failures.length} failures`;
}
