/**
 * ModelProxy: one fastify server that many rollouts share. Each rollout's agent is pointed at its own
 * OpenAI base URL (`/sessions/{id}/v1`, or `Authorization: Bearer <id>` / `x-session-id` on `/v1`); every
 * call is handed to the session's policy backend, bounded by the per-request timeout and the session's
 * `maxSteps`, and recorded. Failures reach the agent as OpenAI-shaped errors, never as a hang.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { abortReasonError, PolicyError, requestTimeoutError, toPolicyError } from "../policy/errors.js";
import { TrainerPolicy } from "../policy/trainer.js";
import type { ChatCompletionRequest, ModelCallRecord, PolicyBackend, PolicyResponse } from "../types.js";
import { type ProxyLogger, silentLogger } from "./logger.js";
import {
  completionBody,
  errorBody,
  invalidRequest,
  requestedExtras,
  sseBody,
  wantsStreamUsage,
} from "./openai-wire.js";
import { JsonlRecorder } from "./recorder.js";
import { DEFAULT_MAX_STEPS, type OpenSessionOptions, ProxySession } from "./session.js";
import { mountTrainerRoutes } from "./trainer-routes.js";

export interface ModelProxyOptions {
  /** 0 (default) lets the OS pick a free port. */
  port?: number;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** One backend for every session, or a function making one per session (called at `openSession`). */
  policy: PolicyBackend | ((sessionId: string) => PolicyBackend);
  /** Seconds one model call may take before the agent gets a 504 `request_timeout`. Default 600 (the seed's). */
  requestTimeoutS?: number;
  /** Default `maxSteps` of sessions. Default 30; 0 = no limit. */
  maxSteps?: number;
  logger?: ProxyLogger;
  /** Append every call's record to this JSONL file. */
  record?: string;
  /** Called after every call of every session. */
  onRecord?: (record: ModelCallRecord) => void;
  /** The trainer whose `/trainer/*` HTTP routes to mount; default: `policy` when it is a TrainerPolicy. */
  trainer?: TrainerPolicy;
  /** Require `Authorization: Bearer <trainerToken>` on `/trainer/*`. */
  trainerToken?: string;
  /** Open this session up front and send calls that name no session to it (the seed's single-rollout form). */
  defaultSession?: { id?: string } & OpenSessionOptions;
  /** Open a session on first use of an unknown `/sessions/{id}/v1` path (for agents started by hand). */
  autoSessions?: boolean;
  /** Name reported by `GET /v1/models`; default the policy's `model`, else `swerex-policy`. */
  modelName?: string;
  /** Largest request body accepted. Default 64 MiB (long agent histories). */
  bodyLimitBytes?: number;
  /**
   * Keep every record in memory for `session.records()`. Default true; a long-running standalone proxy that
   * records to JSONL turns it off so memory does not grow with every call.
   */
  keepRecords?: boolean;
  /**
   * Seconds a session opened on first use (`autoSessions`, `x-session-id`) may sit without a call in flight
   * before it is closed and forgotten. Default 3600; sessions opened with `openSession` are never evicted.
   */
  sessionIdleTimeoutS?: number;
  /**
   * Most sessions opened on first use at once. Past it the least recently used idle one is evicted; when none
   * is idle a new id gets a 503 `too_many_sessions`. Default 10,000.
   */
  maxAutoSessions?: number;
}

export interface ModelProxy {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The session that takes calls naming no session, when `defaultSession` was given. */
  readonly defaultSession: ProxySession | undefined;
  openSession(id?: string, opts?: OpenSessionOptions): ProxySession;
  getSession(id: string): ProxySession | undefined;
  sessions(): ProxySession[];
  /** Fails calls in flight (503), ends trainer long-polls, flushes the recording, stops the server. */
  close(): Promise<void>;
}

export const DEFAULT_REQUEST_TIMEOUT_S = 600;
const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;
/** An hour: longer than any agent's pause between two calls, short enough that throwaway ids do not pile up. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_S = 3600;
/** Each session is a few hundred bytes without records; 10,000 is far above any batch's concurrency. */
export const DEFAULT_MAX_AUTO_SESSIONS = 10_000;
/** Longest session id (path segment or `x-session-id`); ids are names, not payloads. */
export const MAX_SESSION_ID_LENGTH = 512;
/**
 * Deepest JSON nesting accepted in a request body. OpenAI bodies nest ~10 levels (tool JSON schemas a few
 * more); a body nested thousands deep would overflow the stack when it is serialised again (to the upstream,
 * to a trainer, to the recording), so it is refused up front with a 400.
 */
export const MAX_BODY_DEPTH = 128;
/** How often idle sessions are looked for, at most (and at least 4 times per idle timeout). */
const SWEEP_INTERVAL_MAX_MS = 60_000;
const SESSION_ROUTE_RE = /^(.+)\/v1\/(chat\/completions|models)$/;

function policyModelName(policy: ModelProxyOptions["policy"]): string | undefined {
  if (typeof policy === "function") return undefined;
  const model = (policy as { model?: unknown }).model;
  return typeof model === "string" ? model : undefined;
}

function bearer(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
}

/**
 * An error's status as HTTP allows it: 4xx and 5xx pass, anything else (a replayed or trainer-given status
 * outside 400-599) becomes 502, so the agent always gets an error status and never a redirect or a 500 from
 * the HTTP layer.
 */
export function errorStatus(status: number): number {
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 502;
}

/** Sends a PolicyError as OpenAI's `{"error": ...}`. `x-should-retry` tells OpenAI SDKs whether to retry. */
function sendPolicyError(reply: FastifyReply, err: PolicyError, param: string | null = null): FastifyReply {
  return reply
    .code(errorStatus(err.status))
    .header("x-should-retry", err.retryable ? "true" : "false")
    .send(errorBody(err, param));
}

/** Whether `value` nests deeper than `max` (iterative: a deep body must not overflow the check itself). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Builds the fastify app and listens on `port` (0 = OS-assigned). See `startSingleRolloutProxy` for fallback. */
export async function startModelProxy(opts: ModelProxyOptions): Promise<ModelProxy> {
  const proxy = new ModelProxyServer(opts);
  try {
    await proxy.listen(opts.port ?? 0, opts.host ?? "127.0.0.1");
  } catch (err) {
    await proxy.close();
    throw err;
  }
  return proxy;
}

class ModelProxyServer implements ModelProxy {
  url = "";
  port = 0;
  host = "";
  defaultSession: ProxySession | undefined;
  private readonly app: FastifyInstance;
  private readonly open = new Map<string, ProxySession>();
  private readonly opts: ModelProxyOptions;
  private readonly log: ProxyLogger;
  private readonly timeoutMs: number;
  private readonly timeoutS: number;
  private readonly recorder: JsonlRecorder | undefined;
  private readonly shutdown = new AbortController();
  private readonly modelName: string;
  private readonly idleMs: number;
  private readonly maxAuto: number;
  private autoCount = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: ModelProxyOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.timeoutS = opts.requestTimeoutS ?? DEFAULT_REQUEST_TIMEOUT_S;
    if (!(this.timeoutS > 0)) throw new RangeError(`requestTimeoutS must be > 0, got ${this.timeoutS}`);
    this.timeoutMs = this.timeoutS * 1000;
    this.modelName = opts.modelName ?? policyModelName(opts.policy) ?? "swerex-policy";
    this.recorder = opts.record === undefined ? undefined : new JsonlRecorder(opts.record, this.log);
    const idleS = opts.sessionIdleTimeoutS ?? DEFAULT_SESSION_IDLE_TIMEOUT_S;
    if (!(idleS > 0)) throw new RangeError(`sessionIdleTimeoutS must be > 0, got ${idleS}`);
    this.idleMs = idleS * 1000;
    this.maxAuto = opts.maxAutoSessions ?? DEFAULT_MAX_AUTO_SESSIONS;
    if (!Number.isInteger(this.maxAuto) || this.maxAuto < 1)
      throw new RangeError(`maxAutoSessions must be a positive integer, got ${this.maxAuto}`);
    this.app = Fastify({ logger: false, bodyLimit: opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT });
    this.routes();
  }

  async listen(port: number, host: string): Promise<void> {
    await this.app.listen({ port, host });
    const addr = this.app.server.address();
    if (addr === null || typeof addr === "string") throw new Error("proxy server has no TCP address");
    this.port = addr.port;
    this.host = host;
    const urlHost = host.includes(":") ? `[${host}]` : host;
    this.url = `http://${urlHost}:${this.port}`;
    const d = this.opts.defaultSession;
    if (d) this.defaultSession = this.openSession(d.id ?? "default", d);
    const every = Math.min(SWEEP_INTERVAL_MAX_MS, Math.max(10, this.idleMs / 4));
    this.sweeper = setInterval(() => this.evictIdle(), every);
    this.sweeper.unref();
    this.log.info({ url: this.url }, "model proxy listening");
  }

  openSession(id: string = randomUUID(), opts: OpenSessionOptions = {}): ProxySession {
    return this.addSession(id, opts, false);
  }

  private addSession(id: string, opts: OpenSessionOptions, auto: boolean): ProxySession {
    if (this.closing) throw new Error("the model proxy is closed");
    if (id === "" || this.open.has(id))
      throw new Error(`session id ${JSON.stringify(id)} is empty or already open`);
    const policy =
      opts.policy ?? (typeof this.opts.policy === "function" ? this.opts.policy(id) : this.opts.policy);
    const baseUrl = `${this.url}/sessions/${encodeURIComponent(id)}/v1`;
    const session = new ProxySession(
      id,
      baseUrl,
      policy,
      { maxSteps: this.opts.maxSteps ?? DEFAULT_MAX_STEPS, ...opts },
      (s) => {
        if (this.open.get(s.id) !== s) return;
        this.open.delete(s.id);
        if (s.autoOpened) this.autoCount--;
      },
      auto,
    );
    this.open.set(id, session);
    if (auto) this.autoCount++;
    return session;
  }

  /** Closes auto-opened sessions with no call in flight and no call for the idle timeout. */
  private evictIdle(): void {
    const cutoff = performance.now() - this.idleMs;
    for (const s of this.open.values()) {
      if (s.autoOpened && s.pending === 0 && s.lastUsedMs <= cutoff) void s.close();
    }
  }

  /** Makes room for one more auto-opened session: evicts the least recently used idle one; false when none is. */
  private makeRoom(): boolean {
    if (this.autoCount < this.maxAuto) return true;
    let lru: ProxySession | undefined;
    for (const s of this.open.values()) {
      if (s.autoOpened && s.pending === 0 && (!lru || s.lastUsedMs < lru.lastUsedMs)) lru = s;
    }
    if (!lru) return false;
    void lru.close();
    return true;
  }

  getSession(id: string): ProxySession | undefined {
    return this.open.get(id);
  }

  sessions(): ProxySession[] {
    return [...this.open.values()];
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const reason = new PolicyError("the model proxy is shutting down", {
      status: 503,
      type: "unavailable",
      code: "proxy_shutdown",
    });
    clearInterval(this.sweeper);
    for (const s of this.open.values()) s.shutdown(reason);
    this.open.clear();
    this.shutdown.abort();
    await this.app.close();
    await this.recorder?.close();
  }

  private routes(): void {
    const app = this.app;
    app.get("/health", async () => ({ status: "ok", sessions: this.open.size }));
    app.get("/v1/models", async () => this.modelsBody());
    app.post("/v1/chat/completions", (req, reply) => {
      let session: ProxySession | undefined;
      try {
        session = this.sessionFromHeaders(req);
      } catch (err) {
        if (err instanceof PolicyError) return sendPolicyError(reply, err, "x-session-id");
        throw err;
      }
      if (!session) {
        return sendPolicyError(
          reply,
          noSession(
            "no session: use the base URL /sessions/{id}/v1, `Authorization: Bearer <id>` or `x-session-id`",
          ),
        );
      }
      return this.chat(session, req, reply);
    });
    // One wildcard per method, because session ids may contain `/`.
    app.post("/sessions/*", (req, reply) => {
      const m = SESSION_ROUTE_RE.exec((req.params as { "*": string })["*"]);
      if (m?.[2] !== "chat/completions") return sendPolicyError(reply, notFound(req.url));
      let session: ProxySession | undefined;
      try {
        session = this.sessionById(m[1] as string);
      } catch (err) {
        if (err instanceof PolicyError) return sendPolicyError(reply, err);
        throw err;
      }
      if (!session) return sendPolicyError(reply, noSession(`unknown or closed session ${m[1]}`));
      return this.chat(session, req, reply);
    });
    app.get("/sessions/*", async (req, reply) => {
      const m = SESSION_ROUTE_RE.exec((req.params as { "*": string })["*"]);
      if (m?.[2] !== "models") return sendPolicyError(reply, notFound(req.url));
      return this.modelsBody();
    });
    app.setNotFoundHandler((req, reply) => sendPolicyError(reply, notFound(req.url)));
    app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
      // Body parse errors and the like: fastify's own 4xx, in OpenAI's shape.
      const status =
        err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode <= 599 ? err.statusCode : 500;
      return sendPolicyError(
        reply,
        new PolicyError(err.message ?? "request failed", {
          status,
          type: status < 500 ? "invalid_request_error" : "internal_error",
        }),
      );
    });
    const trainer =
      this.opts.trainer ?? (this.opts.policy instanceof TrainerPolicy ? this.opts.policy : undefined);
    if (trainer) {
      mountTrainerRoutes(app, {
        trainer,
        shutdown: this.shutdown.signal,
        ...(this.opts.trainerToken === undefined ? {} : { token: this.opts.trainerToken }),
      });
    }
  }

  private modelsBody(): object {
    return {
      object: "list",
      data: [{ id: this.modelName, object: "model", created: 0, owned_by: "swerex" }],
    };
  }

  /** The open session `id`, or (with `autoSessions`) a new one; throws a 400/503 PolicyError for a bad id or no room. */
  private sessionById(id: string, field = "session id"): ProxySession | undefined {
    if (id === "" || id.length > MAX_SESSION_ID_LENGTH) {
      throw invalidRequest(`${field}: must be 1 to ${MAX_SESSION_ID_LENGTH} characters, got ${id.length}`);
    }
    const s = this.open.get(id);
    if (s || !this.opts.autoSessions || this.closing) return s;
    if (!this.makeRoom()) {
      throw new PolicyError(
        `too many sessions: ${this.maxAuto} are open and every one has a call in flight; try again later`,
        { status: 503, type: "unavailable", code: "too_many_sessions", retryable: true },
      );
    }
    return this.addSession(id, {}, true);
  }

  private sessionFromHeaders(req: FastifyRequest): ProxySession | undefined {
    const header = req.headers["x-session-id"];
    if (Array.isArray(header)) throw invalidRequest("x-session-id: give the header once");
    if (typeof header === "string") return this.sessionById(header, "x-session-id");
    const token = bearer(req);
    const byToken = token === undefined ? undefined : this.open.get(token);
    return byToken ?? this.defaultSession;
  }

  private async chat(session: ProxySession, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const startedMs = Date.now();
    const t0 = performance.now();
    const body = req.body as ChatCompletionRequest | null;
    if (typeof body !== "object" || body === null || Array.isArray(body) || !Array.isArray(body.messages)) {
      return sendPolicyError(
        reply,
        invalidRequest("messages: required, an array of chat messages"),
        "messages",
      );
    }
    if (nestedDeeperThan(body, MAX_BODY_DEPTH)) {
      return sendPolicyError(
        reply,
        invalidRequest(`request body: nested deeper than ${MAX_BODY_DEPTH} levels`, "invalid_request"),
      );
    }
    if (session.closed) return sendPolicyError(reply, noSession(`session ${session.id} is closed`));
    const requestId = `req_${randomUUID()}`;
    // Refusals are recorded like answered calls (the trajectory shows what the agent asked) but use no step.
    const refuse = (err: PolicyError, param: string | null = null): FastifyReply => {
      this.finish(session, body, requestId, session.steps, startedMs, t0, 0, null, err);
      return sendPolicyError(reply, err, param);
    };
    if (body.n !== undefined && body.n !== null && body.n !== 1) {
      return refuse(
        invalidRequest(
          "n: only 1 choice per call is served; make n separate calls (one rollout each) instead",
          "unsupported_value",
        ),
        "n",
      );
    }
    if (session.budgetUsed) {
      session.limitReached = true;
      return refuse(
        new PolicyError(
          `max_steps reached: session ${session.id} may make ${session.maxSteps} model calls and has made ${session.steps}`,
          { status: 403, type: "max_steps_exceeded", code: "max_steps_exceeded" },
        ),
      );
    }
    const step = session.steps++;

    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(requestTimeoutError(this.timeoutS)), this.timeoutMs);
    const onGone = () => ac.abort(clientGone());
    reply.raw.once("close", onGone);
    session.track(ac);
    let response: PolicyResponse | null = null;
    let error: PolicyError | null = null;
    const tPolicy = performance.now();
    try {
      response = await session.policy.complete(body, {
        sessionId: session.id,
        step,
        signal: ac.signal,
        requestId,
        ...(session.metadata === undefined ? {} : { metadata: session.metadata }),
      });
      // A backend that ignores its signal must not answer after the deadline or a cancellation.
      if (ac.signal.aborted) error = abortReasonError(ac.signal);
    } catch (err) {
      error = ac.signal.aborted ? abortReasonError(ac.signal) : toPolicyError(err);
    } finally {
      clearTimeout(timer);
      reply.raw.removeListener("close", onGone);
      session.untrack(ac);
    }
    const policyMs = performance.now() - tPolicy;
    this.finish(session, body, requestId, step, startedMs, t0, policyMs, error ? null : response, error);
    if (error || !response) return sendPolicyError(reply, error ?? toPolicyError("no response"));

    const meta = {
      id: `chatcmpl-${requestId.slice(4)}`,
      created: Math.floor(startedMs / 1000),
      model: response.model ?? body.model ?? this.modelName,
    };
    if (body.stream === true) {
      return reply
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .send(sseBody(response, meta, wantsStreamUsage(body)));
    }
    return reply.send(completionBody(response, meta, requestedExtras(body)));
  }

  private finish(
    session: ProxySession,
    request: ChatCompletionRequest,
    requestId: string,
    step: number,
    startedMs: number,
    t0: number,
    policyMs: number,
    response: PolicyResponse | null,
    error: PolicyError | null,
  ): void {
    const totalMs = performance.now() - t0;
    const record: ModelCallRecord = {
      session_id: session.id,
      step,
      request,
      response,
      started_at: new Date(startedMs).toISOString(),
      duration_ms: totalMs,
      request_id: requestId,
      timings: { policy_ms: policyMs, total_ms: totalMs },
    };
    if (error) {
      record.error = { type: error.type, message: error.message, status: error.status };
      if (error.code !== undefined) record.error.code = error.code;
      this.log.warn({ session_id: session.id, step, status: error.status, type: error.type }, error.message);
    }
    if (session.metadata !== undefined) record.metadata = session.metadata;
    if (this.opts.keepRecords !== false) session.addRecord(record);
    this.recorder?.write(record);
    try {
      session.onCall?.(record);
      this.opts.onRecord?.(record);
    } catch (err) {
      // A faulty observer must not turn an answered call into a failed one.
      this.log.error({ err, session_id: session.id }, "onCall/onRecord callback threw");
    }
  }
}

function noSession(message: string): PolicyError {
  return new PolicyError(message, { status: 404, type: "invalid_request_error", code: "session_not_found" });
}

function notFound(url: string): PolicyError {
  return new PolicyError(`no route ${url.split("?")[0]}`, {
    status: 404,
    type: "invalid_request_error",
    code: "not_found",
  });
}

function clientGone(): PolicyError {
  return new PolicyError("the agent closed the connection", {
    status: 499,
    type: "cancelled",
    code: "client_closed",
  });
}
