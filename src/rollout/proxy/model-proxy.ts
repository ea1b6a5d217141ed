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
import { completionBody, errorBody, invalidRequest, sseBody, wantsStreamUsage } from "./openai-wire.js";
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
  /** Default `maxSteps` of sessions. Default 30. */
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

/** Sends a PolicyError as OpenAI's `{"error": ...}`. `x-should-retry` tells OpenAI SDKs whether to retry. */
function sendPolicyError(reply: FastifyReply, err: PolicyError): FastifyReply {
  return reply
    .code(err.status)
    .header("x-should-retry", err.retryable ? "true" : "false")
    .send(errorBody(err));
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
  private closing: Promise<void> | undefined;

  constructor(opts: ModelProxyOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.timeoutS = opts.requestTimeoutS ?? DEFAULT_REQUEST_TIMEOUT_S;
    if (!(this.timeoutS > 0)) throw new RangeError(`requestTimeoutS must be > 0, got ${this.timeoutS}`);
    this.timeoutMs = this.timeoutS * 1000;
    this.modelName = opts.modelName ?? policyModelName(opts.policy) ?? "swerex-policy";
    this.recorder = opts.record === undefined ? undefined : new JsonlRecorder(opts.record, this.log);
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
    this.log.info({ url: this.url }, "model proxy listening");
  }

  openSession(id: string = randomUUID(), opts: OpenSessionOptions = {}): ProxySession {
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
        if (this.open.get(s.id) === s) this.open.delete(s.id);
      },
    );
    this.open.set(id, session);
    return session;
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
      const session = this.sessionFromHeaders(req);
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
      const session = this.sessionById(m[1] as string);
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
      const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
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

  private sessionById(id: string): ProxySession | undefined {
    const s = this.open.get(id);
    if (s || !this.opts.autoSessions || this.closing) return s;
    return this.openSession(id);
  }

  private sessionFromHeaders(req: FastifyRequest): ProxySession | undefined {
    const header = req.headers["x-session-id"];
    if (typeof header === "string") return this.sessionById(header);
    const token = bearer(req);
    const byToken = token === undefined ? undefined : this.open.get(token);
    return byToken ?? this.defaultSession;
  }

  private async chat(session: ProxySession, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const startedMs = Date.now();
    const t0 = performance.now();
    const body = req.body as ChatCompletionRequest | null;
    if (typeof body !== "object" || body === null || !Array.isArray(body.messages)) {
      return sendPolicyError(reply, invalidRequest("messages: required, an array of chat messages"));
    }
    if (body.n !== undefined && body.n !== 1) {
      return sendPolicyError(
        reply,
        invalidRequest("n: only 1 choice per call is supported", "unsupported_value"),
      );
    }
    if (session.closed) return sendPolicyError(reply, noSession(`session ${session.id} is closed`));
    const requestId = `req_${randomUUID()}`;
    if (session.steps >= session.maxSteps) {
      session.limitReached = true;
      const err = new PolicyError(
        `max_steps reached: session ${session.id} may make ${session.maxSteps} model calls and has made ${session.steps}`,
        { status: 403, type: "max_steps_exceeded", code: "max_steps_exceeded" },
      );
      this.finish(session, body, requestId, session.steps, startedMs, t0, 0, null, err);
      return sendPolicyError(reply, err);
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
    return reply.send(completionBody(response, meta));
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
