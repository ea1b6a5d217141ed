/**
 * The runtime server: SWE-ReX's `swerex-remote` HTTP API (spec section 4) on fastify, wrapping any Runtime.
 * Same paths, bodies and status codes as upstream, so Python SWE-agent can drive it; unlike upstream it is
 * concurrent (per-session serialization is the runtime's job) and its `X-Request-ID` handling is a real
 * idempotency cache (see request-id-cache.ts).
 */
import multipart from "@fastify/multipart";
import fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { z } from "zod";
import { redactingLoggerOptions } from "../log/index.js";
import { toExceptionTransfer } from "../runtime/errors.js";
import {
  Action,
  BashObservation,
  CloseBashSessionResponse,
  CloseSessionRequest,
  Command,
  CommandResponse,
  CreateBashSessionResponse,
  CreateSessionRequest,
  EmptyResponse,
  IsAliveResponse,
  ReadFileRequest,
  ReadFileResponse,
  WriteFileRequest,
} from "../runtime/protocol.js";
import type { Runtime } from "../runtime/runtime.js";
import { apiKeyChecker } from "./api-key.js";
import { acceptAnyContentType, bodyDigest, jsonBodyOf } from "./body.js";
import { capTransfer } from "./echo-cap.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { type CachedReply, RequestIdCache, type RequestIdCacheOptions } from "./request-id-cache.js";
import { discardUpload, placeUpload, type ReceivedUpload, receiveUpload } from "./upload.js";
import { parseBody, RequestValidationError } from "./validation.js";

export interface RuntimeServerOptions {
  runtime: Runtime;
  /** Expected `X-API-Key`; the empty string turns auth off. */
  authToken: string;
  /** Logs go here, with secrets redacted. Default: no logging. */
  logger?: Logger;
  requestIdCache?: RequestIdCacheOptions;
  /** Largest JSON body accepted (write_file content). Default 256 MiB. */
  bodyLimitBytes?: number;
  /** Largest uploaded file. Default 1 GiB. */
  uploadLimitBytes?: number;
  /** Largest total size an uploaded zip may inflate to. Default 4 GiB. */
  unzipLimitBytes?: number;
}

/**
 * Header paths pino blanks by exact path; on top of these, every secret-looking header name in any
 * `headers` object is blanked (src/log/redact.ts).
 */
export const REDACTED_LOG_PATHS = [
  'headers["x-api-key"]',
  'headers["x-access-token"]',
  "headers.authorization",
  'req.headers["x-api-key"]',
  'req.headers["x-access-token"]',
  "req.headers.authorization",
];

/** Every path the protocol defines, with the methods it answers to. */
export const RUNTIME_SERVER_ROUTES = [
  { method: "GET", path: "/" },
  { method: "GET", path: "/is_alive" },
  { method: "POST", path: "/create_session" },
  { method: "POST", path: "/run_in_session" },
  { method: "POST", path: "/close_session" },
  { method: "POST", path: "/execute" },
  { method: "POST", path: "/read_file" },
  { method: "POST", path: "/write_file" },
  { method: "POST", path: "/upload" },
  { method: "POST", path: "/close" },
] as const;

const JSON_TYPE = "application/json; charset=utf-8";
const ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** Fastify's own request errors (e.g. an upload over the size limit) keep their 4xx status. */
function httpClientError(err: unknown): { status: number; message: string } | undefined {
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e?.code !== "string" || !e.code.startsWith("FST_") || typeof e.statusCode !== "number")
    return undefined;
  if (e.statusCode < 400 || e.statusCode >= 500) return undefined;
  return { status: e.statusCode, message: String(e.message) };
}

function jsonReply(statusCode: number, body: unknown): CachedReply {
  return { statusCode, payload: JSON.stringify(body) };
}

export function createRuntimeServer(opts: RuntimeServerOptions): FastifyInstance {
  const { runtime } = opts;
  const bodyLimit = opts.bodyLimitBytes ?? DEFAULT_LIMITS.maxBodyBytes;
  const uploadLimit = opts.uploadLimitBytes ?? DEFAULT_LIMITS.maxUploadBytes;
  const unzipLimit = opts.unzipLimitBytes ?? DEFAULT_LIMITS.maxUnzipBytes;
  const logger = opts.logger?.child(
    { component: "swerex-remote" },
    redactingLoggerOptions(REDACTED_LOG_PATHS),
  );
  const app = fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Long commands are the point of this server: no per-request time limit on the server side.
    requestTimeout: 0,
    connectionTimeout: 0,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  const cache = new RequestIdCache(opts.requestIdCache);
  const checkKey = apiKeyChecker(opts.authToken);

  acceptAnyContentType(app, bodyLimit);
  app.register(multipart, { limits: { fileSize: uploadLimit, files: 1, fields: 16 } });

  // Auth runs before routing, so an unauthenticated request to any path (even a wrong method) gets 403/401.
  // Callback-style hooks: an async hook costs a promise per request, for nothing when the key is fine.
  app.addHook("onRequest", (req, reply, done) => {
    const verdict = checkKey(req.headers["x-api-key"]);
    if (verdict === "ok") {
      done();
      return;
    }
    // Answered here: `done` is not called, and nothing is returned (a reply is thenable, fastify would await it).
    req.log.debug({ headers: req.headers, url: req.url }, "rejected request: %s API key", verdict);
    if (verdict === "missing") reply.code(403).send({ detail: "Not authenticated" });
    else reply.code(401).send({ detail: "Invalid API Key" });
  });
  // Only registered when it can print something: it runs for every request.
  if (logger?.isLevelEnabled("debug")) {
    app.addHook("onResponse", (req, reply, done) => {
      req.log.debug(
        { method: req.method, url: req.url, statusCode: reply.statusCode, ms: reply.elapsedTime },
        "request completed",
      );
      done();
    });
  }

  /** Turns the outcome of a runtime call into the reply upstream would send. */
  async function answer(produce: () => Promise<unknown>, out: z.ZodType): Promise<CachedReply> {
    try {
      return jsonReply(200, out.parse(await produce()));
    } catch (err) {
      if (err instanceof RequestValidationError) return jsonReply(422, { detail: err.detail });
      const clientError = httpClientError(err);
      if (clientError) return jsonReply(clientError.status, { detail: clientError.message });
      const transfer = capTransfer(toExceptionTransfer(err));
      app.log.info({ class_path: transfer.class_path, error: transfer.message }, "runtime error → 511");
      return jsonReply(511, { swerexception: transfer });
    }
  }

  /**
   * Runs a request once per `X-Request-ID` and body: a retried id with the same body gets the first reply,
   * even while it is running; the same id with a different body is a different request and runs.
   */
  async function send(
    req: FastifyRequest,
    reply: FastifyReply,
    bodyDigest: string,
    produce: () => Promise<CachedReply>,
  ) {
    const id = req.headers["x-request-id"];
    const key =
      typeof id === "string" && id !== "" ? `${req.routeOptions.url}\n${id}\n${bodyDigest}` : undefined;
    const result = key === undefined ? await produce() : await cache.run(key, produce);
    return reply.code(result.statusCode).type(JSON_TYPE).send(result.payload);
  }

  function jsonRoute<S extends z.ZodType>(
    path: string,
    schema: S,
    out: z.ZodType,
    call: (body: z.output<S>) => Promise<unknown>,
  ) {
    app.post(path, (req, reply) =>
      send(req, reply, bodyDigest(req.body), () =>
        answer(() => call(parseBody(schema, jsonBodyOf(req))), out),
      ),
    );
  }

  app.get("/", async () => ({ message: "hello world" }));
  // Liveness is never answered from the request-id cache: a stale "alive" would be a lie.
  app.get("/is_alive", async (_req, reply) => {
    const result = await answer(() => runtime.isAlive(), IsAliveResponse);
    return reply.code(result.statusCode).type(JSON_TYPE).send(result.payload);
  });
  jsonRoute("/create_session", CreateSessionRequest, CreateBashSessionResponse, (b) =>
    runtime.createSession(b),
  );
  jsonRoute("/run_in_session", Action, BashObservation, (b) => runtime.runInSession(b));
  jsonRoute("/close_session", CloseSessionRequest, CloseBashSessionResponse, (b) => runtime.closeSession(b));
  jsonRoute("/execute", Command, CommandResponse, (b) => runtime.execute(b));
  jsonRoute("/read_file", ReadFileRequest, ReadFileResponse, (b) => runtime.readFile(b));
  jsonRoute("/write_file", WriteFileRequest, EmptyResponse, (b) => runtime.writeFile(b));
  // The upload is received (streamed to disk, hashed) before the request-id cache is asked, so that a
  // reused id with a different file is told apart; a cache hit discards what was received.
  app.post("/upload", async (req, reply) => {
    let upload: ReceivedUpload | undefined;
    const received = await answer(async () => {
      upload = await receiveUpload(req);
      return {};
    }, EmptyResponse);
    const u = upload;
    if (!u) return reply.code(received.statusCode).type(JSON_TYPE).send(received.payload);
    try {
      return await send(req, reply, u.digest, () =>
        answer(() => placeUpload(u, { unzipLimitBytes: unzipLimit }).then(() => ({})), EmptyResponse),
      );
    } finally {
      await discardUpload(u);
    }
  });
  app.post("/close", (req, reply) =>
    send(req, reply, bodyDigest(req.body), () => answer(() => runtime.close(), EmptyResponse)),
  );

  // FastAPI answers a known path with the wrong method with 405, not 404.
  for (const { method, path } of RUNTIME_SERVER_ROUTES) {
    const others = ALL_METHODS.filter((m) => m !== method && !(method === "GET" && m === "HEAD"));
    app.route({
      method: [...others],
      url: path,
      handler: async (_req, reply) => reply.code(405).send({ detail: "Method Not Allowed" }),
    });
  }
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ detail: "Not Found" }));

  app.setErrorHandler(async (err, req, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    const clientError = httpClientError(err);
    if (clientError) return reply.code(clientError.status).send({ detail: clientError.message });
    const transfer = capTransfer(toExceptionTransfer(err));
    req.log.error({ class_path: transfer.class_path, error: transfer.traceback }, "unhandled server error");
    return reply
      .code(511)
      .type(JSON_TYPE)
      .send(JSON.stringify({ swerexception: transfer }));
  });

  return app;
}
