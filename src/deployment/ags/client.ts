/**
 * Typed AGS control-plane client. `CommonClient` from tencentcloud-sdk-nodejs-common signs (TC3-HMAC-SHA256)
 * and sends; this facade adds what the SDK lacks (spec/ags.md 2.5): per-action pacing, retries with backoff
 * on transient failures, idempotent starts, and typed errors.
 */
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Logger } from "pino";
import { CommonClient } from "tencentcloud-sdk-nodejs-common";
import { sleep } from "../../runtime/index.js";
import { AgsRequestError } from "./errors.js";
import { agsLogger } from "./log.js";
import { ActionRateLimiter, type AgsPacer } from "./rate-limit.js";
import { backoffDelayMs, DEFAULT_RETRY_POLICY, isRetryable, type RetryPolicy } from "./retry.js";
import { AGS_API_VERSION, type AgsAction, type AgsActions } from "./types.js";

export const DEFAULT_AGS_ENDPOINT = "ags.tencentcloudapi.com";
export const DEFAULT_RATE_LIMIT = 20;

export interface AgsClientOptions {
  secretId: string;
  secretKey: string;
  /** STS session token, when the credentials are temporary. */
  sessionToken?: string;
  region: string;
  /** `host[:port]`, optionally prefixed with `http://` or `https://` (default https). */
  endpoint?: string;
  skipSslVerify?: boolean;
  /** Per-request timeout in seconds (the SDK's `reqTimeout`). */
  requestTimeoutSec?: number;
  /** Requests per second per action (AGS's default limit is 20). */
  rateLimit?: number;
  /** Per-action overrides of `rateLimit`. */
  actionRateLimits?: Record<string, number>;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Replaces the per-process token buckets (e.g. a bucket shared by replicas through the store). */
  pacer?: AgsPacer;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** The part of the SDK client we use; a seam for tests. */
interface Transport {
  request(action: string, req: unknown, options: { signal?: AbortSignal }): Promise<unknown>;
}

interface SdkException {
  message: string;
  code?: string;
  requestId?: string;
  traceId?: string;
  httpCode?: number;
}

function isSdkException(e: unknown): e is SdkException {
  return e instanceof Error && "requestId" in e;
}

/** Splits `http://host:port` into the SDK's separate protocol and endpoint settings. */
export function parseEndpoint(endpoint: string): { protocol: "http://" | "https://"; host: string } {
  const m = /^(https?):\/\/(.*)$/i.exec(endpoint.trim());
  const protocol = m ? (`${m[1]?.toLowerCase()}://` as "http://" | "https://") : "https://";
  const host = (m ? (m[2] ?? "") : endpoint.trim()).replace(/\/+$/, "");
  if (!host || host.includes("/"))
    throw new Error(`invalid AGS endpoint ${JSON.stringify(endpoint)}: want host[:port]`);
  return { protocol, host };
}

/** Actions whose retries must carry one ClientToken so the server creates the resource at most once. */
const IDEMPOTENT_CREATES = new Set<AgsAction>(["StartSandboxInstance", "CreateSandboxTool"]);

export class AgsClient {
  readonly region: string;
  readonly endpoint: string;
  readonly protocol: "http://" | "https://";
  private readonly transport: Transport;
  private readonly limiter: ActionRateLimiter;
  private readonly pacer: AgsPacer | undefined;
  /** `ags/<SecretId fingerprint>/<region>/`: the prefix of the pacer's bucket names. */
  private readonly bucketPrefix: string;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  private readonly agent: http.Agent;
  /** Requests sent per action, counting every retry. */
  readonly callCounts: Record<string, number> = {};

  constructor(opts: AgsClientOptions, transport?: Transport) {
    const { protocol, host } = parseEndpoint(opts.endpoint ?? DEFAULT_AGS_ENDPOINT);
    this.region = opts.region;
    this.endpoint = host;
    this.protocol = protocol;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.limiter = new ActionRateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT, opts.actionRateLimits);
    this.pacer = opts.pacer;
    this.bucketPrefix = `ags/${fingerprint(opts.secretId)}/${opts.region}/`;
    this.log = (opts.logger ?? agsLogger()).child({ component: "ags-client" });
    // An explicit agent also keeps the SDK from routing through `http_proxy` (spec/ags.md 2.6).
    this.agent =
      protocol === "http://"
        ? new http.Agent({ keepAlive: true })
        : new https.Agent({ keepAlive: true, rejectUnauthorized: !opts.skipSslVerify });
    this.transport =
      transport ??
      new CommonClient(host, AGS_API_VERSION, {
        credential: { secretId: opts.secretId, secretKey: opts.secretKey, token: opts.sessionToken },
        region: opts.region,
        profile: {
          signMethod: "TC3-HMAC-SHA256",
          httpProfile: { protocol, reqTimeout: opts.requestTimeoutSec ?? 30, agent: this.agent },
        },
      });
  }

  /**
   * Sends one action, paced by the action's token bucket and retried on transient failures. A start or
   * tool creation without a `ClientToken` gets one here, before the first attempt, so every retry reuses it.
   */
  async call<A extends AgsAction>(
    action: A,
    req: AgsActions[A]["req"],
    opts: CallOptions = {},
  ): Promise<AgsActions[A]["res"]> {
    let body: AgsActions[A]["req"] = req;
    if (IDEMPOTENT_CREATES.has(action) && !(req as { ClientToken?: string }).ClientToken) {
      body = { ...req, ClientToken: randomUUID() };
    }
    const { signal } = opts;
    for (let attempt = 0; ; attempt++) {
      await this.pace(action, signal);
      this.callCounts[action] = (this.callCounts[action] ?? 0) + 1;
      const started = Date.now();
      try {
        const res = (await this.transport.request(action, body, { signal })) as AgsActions[A]["res"];
        this.log.debug({ action, attempt, ms: Date.now() - started, requestId: res?.RequestId }, "ags call");
        return res;
      } catch (raw) {
        signal?.throwIfAborted();
        const err = this.toApiError(action, raw, attempt + 1);
        if (!isRetryable(err) || attempt >= this.retry.maxRetries) {
          this.log.debug({ action, attempt, code: err.code, requestId: err.requestId }, "ags call failed");
          throw err;
        }
        const delay = backoffDelayMs(attempt, this.retry);
        this.log.warn(
          { action, attempt, code: err.code, requestId: err.requestId, retryInMs: Math.round(delay) },
          "ags call failed, retrying",
        );
        await sleep(delay, signal);
      }
    }
  }

  private pace(action: string, signal: AbortSignal | undefined): Promise<void> {
    if (!this.pacer) return this.limiter.take(action, signal);
    return this.pacer({
      bucket: this.bucketPrefix + action,
      action,
      ratePerSecond: this.limiter.rateFor(action),
      ...(signal ? { signal } : {}),
    });
  }

  private toApiError(action: string, raw: unknown, attempts: number): AgsRequestError {
    if (isSdkException(raw)) {
      if (raw.code) {
        return new AgsRequestError({
          action,
          code: raw.code,
          message: raw.message,
          requestId: raw.requestId,
          traceId: raw.traceId,
          kind: "api",
          attempts,
        });
      }
      if (raw.httpCode) {
        return new AgsRequestError({
          action,
          code: `HttpError.${raw.httpCode}`,
          message: raw.message || `HTTP ${raw.httpCode}`,
          traceId: raw.traceId,
          httpStatus: raw.httpCode,
          kind: "http",
          attempts,
        });
      }
    }
    // Network failures, and a 200 that is not an API envelope (the SDK lets the parse error escape).
    const message = raw instanceof Error ? raw.message : String(raw);
    return new AgsRequestError({
      action,
      code: "TransportError",
      message,
      kind: "transport",
      attempts,
      cause: raw,
    });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }
}

/** A short, stable, non-reversible name for a credential (bucket names and cache keys hold no secret). */
function fingerprint(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

const shared = new Map<string, AgsClient>();
/** Distinct pacers get distinct shared clients (two stores in one process must not share buckets). */
const pacerIds = new WeakMap<AgsPacer, number>();
let lastPacerId = 0;

function pacerId(pacer: AgsPacer | undefined): number {
  if (!pacer) return 0;
  let id = pacerIds.get(pacer);
  if (id === undefined) {
    id = ++lastPacerId;
    pacerIds.set(pacer, id);
  }
  return id;
}

/**
 * One client per (endpoint, region, credentials, pacing) in the process, so every deployment draws from
 * the same token buckets: the limit AGS enforces is per account and action, not per deployment.
 */
export function sharedAgsClient(opts: AgsClientOptions): AgsClient {
  const keyHash = fingerprint(opts.secretKey);
  const key = JSON.stringify([
    opts.endpoint ?? DEFAULT_AGS_ENDPOINT,
    opts.region,
    opts.secretId,
    keyHash,
    opts.sessionToken ? fingerprint(opts.sessionToken) : "",
    !!opts.skipSslVerify,
    opts.rateLimit ?? DEFAULT_RATE_LIMIT,
    opts.actionRateLimits ?? {},
    pacerId(opts.pacer),
  ]);
  let client = shared.get(key);
  if (!client) {
    client = new AgsClient(opts);
    shared.set(key, client);
  }
  return client;
}

/** Drops and closes every shared client (tests, and processes that switch accounts). */
export function resetSharedAgsClients(): void {
  for (const c of shared.values()) c.close();
  shared.clear();
}
