/**
 * The HTTP client of the control-plane API v1 (`swerex serve`, docs/control-plane.md): create, get, list,
 * lease, pause/resume and delete sandboxes. The `controlplane` deployment, `swerex sandbox` and the benchmark
 * all go through it.
 *
 * Guarantees: every call has a deadline; connection failures and 502/503/504 are retried with backoff, which
 * is safe because every call is idempotent (a create carries an `Idempotency-Key`, the same on every
 * attempt); a non-2xx answer becomes a {@link ControlPlaneApiError} with the status and the service's own
 * message; the API key is sent as `Authorization: Bearer` and never appears in an error or log line.
 */
import { type Dispatcher, request } from "undici";
import { z } from "zod";
import { SwerexError } from "../../runtime/errors.js";
import { isTransientTransportError, nextBackoff, RETRY_STATUSES } from "../../runtime/remote/retry.js";
import { describeTransportError } from "../../runtime/remote/runtime.js";
import { sleep } from "../../runtime/sleep.js";

/** First retry delay and its cap, seconds (the runtime client's schedule). */
const RETRY_BACKOFF_S = 0.1;
const RETRY_BACKOFF_MAX_S = 5;
const DEFAULT_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 60_000;

/** Timestamps: the service's own format is passed through (ISO string or epoch ms). */
const Timestamp = z.union([z.string(), z.number()]).nullable().optional();

/** A sandbox as the API shows it. Loose: fields a newer service adds are kept, not rejected. */
export const SandboxResource = z.looseObject({
  id: z.string(),
  state: z.string(),
  deployment: z.unknown().optional(),
  metadata: z.record(z.string(), z.string()).default({}),
  created_at: Timestamp,
  started_at: Timestamp,
  stopped_at: Timestamp,
  expires_at: Timestamp,
  error: z.object({ class: z.string(), message: z.string() }).nullable().optional(),
  runtime_url: z.string().optional(),
});
export type SandboxResource = z.infer<typeof SandboxResource>;

export const SandboxPage = z.looseObject({
  items: z.array(SandboxResource),
  next_cursor: z.string().nullable().optional(),
});
export type SandboxPage = z.infer<typeof SandboxPage>;

/** An API timestamp (ISO string or epoch ms) in epoch ms; undefined when absent or unreadable. */
export function toEpochMs(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = typeof value === "number" ? value : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The body of `POST /v1/sandboxes`. */
export interface CreateSandboxRequest {
  deployment?: Record<string, unknown>;
  ttl?: number;
  metadata?: Record<string, string>;
  /** false: answer 202 while the sandbox is still starting. */
  wait?: boolean;
}

export interface ListSandboxesQuery {
  state?: string;
  /** Every key/value must match (`?metadata.KEY=VALUE`). */
  metadata?: Record<string, string>;
  limit?: number;
  cursor?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** A non-2xx answer of the service: its status and its message (never the request's headers). */
export class ControlPlaneApiError extends SwerexError {
  static override readonly classPath: string = "swerex_ts.ControlPlaneApiError";
  readonly status: number;
  /** The service's message (from its JSON error body), or the start of the body. */
  readonly detail: string;
  /** `Retry-After` in ms, when the service sent one (429). */
  readonly retryAfterMs: number | undefined;
  constructor(status: number, detail: string, what: string, retryAfterMs?: number) {
    super(`${what}: HTTP ${status}: ${detail}`, { extraInfo: { status } });
    this.status = status;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface ControlPlaneClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored). */
  url: string;
  apiKey: string;
  /** Deadline of each call across its retries; default 60 s. */
  timeoutMs?: number;
  /** Retries after a connection failure or 502/503/504; default 3. */
  retries?: number;
  /** Connection pool; default: undici's global one (shared keep-alive connections). */
  dispatcher?: Dispatcher;
}

export class ControlPlaneClient {
  /** Base URL without a trailing slash. */
  readonly url: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(opts: ControlPlaneClientOptions) {
    if (!/^https?:\/\//i.test(opts.url)) {
      throw new SwerexError(
        `control-plane url must start with http:// or https://, got ${JSON.stringify(opts.url)}`,
      );
    }
    this.url = opts.url.replace(/\/+$/, "");
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = opts.retries ?? DEFAULT_RETRIES;
    this.dispatcher = opts.dispatcher;
  }

  /** The swerex-remote pass-through of one sandbox (what `RemoteRuntime`'s `host` is set to). */
  runtimeUrl(id: string): string {
    return `${this.url}/v1/sandboxes/${encodeURIComponent(id)}/runtime`;
  }

  /** `POST /v1/sandboxes`; the status tells 201 (running) from 202 (still starting). */
  async create(
    body: CreateSandboxRequest,
    opts: CallOptions & { idempotencyKey?: string } = {},
  ): Promise<{ status: number; sandbox: SandboxResource }> {
    const headers: Record<string, string> = {};
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    const { status, json } = await this.call("POST", "/v1/sandboxes", { body, headers, signal: opts.signal });
    return { status, sandbox: SandboxResource.parse(json) };
  }

  async get(id: string, opts: CallOptions = {}): Promise<SandboxResource> {
    return SandboxResource.parse((await this.call("GET", this.path(id), opts)).json);
  }

  /** One page; pass `next_cursor` back as `cursor` for the next. */
  async list(query: ListSandboxesQuery = {}, opts: CallOptions = {}): Promise<SandboxPage> {
    const params = new URLSearchParams();
    if (query.state) params.set("state", query.state);
    for (const [k, v] of Object.entries(query.metadata ?? {})) params.set(`metadata.${k}`, v);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    if (query.cursor) params.set("cursor", query.cursor);
    const qs = params.toString();
    return SandboxPage.parse((await this.call("GET", `/v1/sandboxes${qs ? `?${qs}` : ""}`, opts)).json);
  }

  /** Extends the lease to `ttl` seconds from now. */
  async renewLease(id: string, ttl: number, opts: CallOptions = {}): Promise<SandboxResource> {
    return SandboxResource.parse(
      (await this.call("POST", `${this.path(id)}/lease`, { ...opts, body: { ttl } })).json,
    );
  }

  async pause(id: string, opts: CallOptions = {}): Promise<SandboxResource> {
    return SandboxResource.parse(
      (await this.call("POST", `${this.path(id)}/pause`, { ...opts, body: {} })).json,
    );
  }

  async resume(id: string, opts: CallOptions = {}): Promise<SandboxResource> {
    return SandboxResource.parse(
      (await this.call("POST", `${this.path(id)}/resume`, { ...opts, body: {} })).json,
    );
  }

  /** `DELETE`: stops the sandbox and answers its stopped record (again on a repeat; 404 for unknown ids). */
  async delete(id: string, opts: CallOptions = {}): Promise<SandboxResource> {
    return SandboxResource.parse((await this.call("DELETE", this.path(id), opts)).json);
  }

  private path(id: string): string {
    return `/v1/sandboxes/${encodeURIComponent(id)}`;
  }

  /** One logical call: retried on connection failures and 502/503/504 until its deadline. */
  private async call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ status: number; json: unknown }> {
    const what = `${method} ${this.url}${path.split("?")[0]}`;
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: "application/json",
      ...opts.headers,
    };
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let delay = RETRY_BACKOFF_S;
    for (let attempt = 0; ; attempt++) {
      const retry = async (): Promise<boolean> => {
        if (attempt >= this.retries) return false;
        await sleep(delay * 1000, signal).catch(() => undefined);
        delay = nextBackoff(delay, RETRY_BACKOFF_MAX_S);
        return !signal.aborted;
      };
      let status: number;
      let text: string;
      let retryAfter: string | undefined;
      try {
        const res = await request(`${this.url}${path}`, {
          method,
          headers,
          body,
          signal,
          ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
        });
        status = res.statusCode;
        const ra = res.headers["retry-after"];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
        text = await res.body.text();
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (!deadline.aborted && isTransientTransportError(err) && (await retry())) continue;
        if (deadline.aborted) {
          throw new ControlPlaneUnavailableError(`${what}: no answer within ${this.timeoutMs / 1000}s`, err);
        }
        throw new ControlPlaneUnavailableError(`${what}: ${describeTransportError(err)}`, err);
      }
      if (status >= 200 && status < 300) return { status, json: text === "" ? {} : JSON.parse(text) };
      if (RETRY_STATUSES.has(status) && (await retry())) continue;
      throw new ControlPlaneApiError(status, errorDetail(text), what, retryAfterMs(retryAfter));
    }
  }
}

/** The service could not be reached (or did not answer in time). */
export class ControlPlaneUnavailableError extends SwerexError {
  static override readonly classPath: string = "swerex_ts.ControlPlaneUnavailableError";
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

/** The service's message from a JSON error body (`{error: {message}}`, `{message}`, `{detail}`), else the text. */
export function errorDetail(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text.slice(0, 500) || "(empty body)";
  }
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const err = b.error;
    if (err && typeof err === "object" && typeof (err as { message?: unknown }).message === "string") {
      return (err as { message: string }).message;
    }
    for (const v of [b.message, err, b.detail]) if (typeof v === "string") return v;
    if (b.detail !== undefined) return JSON.stringify(b.detail);
  }
  return text.slice(0, 500);
}

/** `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
