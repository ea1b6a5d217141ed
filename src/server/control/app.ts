/**
 * The control-plane HTTP server (`swerex serve`): fastify with three route groups, each seeing only its own
 * parsers and hooks:
 * - `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (no key);
 * - `/v1/sandboxes...` (an API key; JSON bodies up to `bodyLimitBytes`, 413 above);
 * - `/v1/sandboxes/{id}/runtime/...` (the pass-through: swerex-remote's auth answers, bodies streamed).
 * Errors are JSON `{"error": {"code", "message", ...}}`; nothing a request sends can crash the process.
 */
import { randomUUID } from "node:crypto";
import fastify, { type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { SandboxService } from "../../controlplane/index.js";
import type { PoolManager } from "../../controlplane/pool-manager.js";
import type { Store } from "../../store/types.js";
import { REDACTED_LOG_PATHS } from "../runtime-server.js";
import { SWEREX_TS_VERSION } from "../version.js";
import { apiKeysChecker } from "./auth.js";
import { sendError } from "./errors.js";
import type { ControlMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { passThroughRoutes } from "./passthrough.js";
import { sandboxRoutes } from "./routes.js";
import { registerPoolMetrics, scaleRoutes } from "./scale-routes.js";
import { sandboxWire } from "./wire.js";

/** JSON bodies of the API proper are small; 1 MiB leaves room for large metadata or deployment configs. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** What the service's logs must never print (request headers, stored handles, configs' credentials). */
export const CONTROL_REDACT_PATHS = [
  ...REDACTED_LOG_PATHS,
  "handle",
  "*.handle",
  "auth_token",
  "*.auth_token",
  "secret_key",
  "*.secret_key",
  "secret_id",
  "*.secret_id",
];

export interface ControlServerOptions {
  service: SandboxService;
  store: Store;
  apiKeys: readonly string[];
  logger: Logger;
  metrics: ControlMetrics;
  publicUrl?: string;
  bodyLimitBytes?: number;
  /** Warm pools (`GET /v1/pools`, pool metrics); undefined: none. */
  pools?: () => PoolManager | undefined;
}

export interface ControlServer {
  app: FastifyInstance;
  /** The pass-through's connection pool (closed with the server). */
  dispatcher: Dispatcher;
}

export function createControlServer(opts: ControlServerOptions): ControlServer {
  const logger = opts.logger.child(
    { component: "api" },
    { redact: { paths: CONTROL_REDACT_PATHS, censor: "[redacted]" } },
  );
  const bodyLimit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Creates wait for a start and pass-through commands run long: no server-side request time limit.
    requestTimeout: 0,
    connectionTimeout: 0,
    return503OnClosing: true,
    genReqId: () => `req-${randomUUID()}`,
  }) as unknown as FastifyInstance;
  const checkKey = apiKeysChecker(opts.apiKeys);
  if (opts.pools) registerPoolMetrics(opts.metrics.registry, opts.pools);

  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    opts.metrics.request(route, req.method, reply.statusCode);
    req.log.info(
      {
        method: req.method,
        route,
        url: req.url.split("?")[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      "request",
    );
    done();
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    try {
      await opts.store.ping();
      return { status: "ok", store: opts.store.kind };
    } catch (err) {
      return reply
        .code(503)
        .send({ status: "unavailable", store: opts.store.kind, error: (err as Error).message });
    }
  });
  app.get("/metrics", async (_req, reply) => {
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
  const openapi = openApiDocument(SWEREX_TS_VERSION);
  app.get("/openapi.json", async () => openapi);

  app.register(async (api) => {
    // An empty body is "no body" (a create with all defaults); bad JSON is a 400 naming the problem.
    const defaultJson = api.getDefaultJsonParser("error", "ignore");
    api.removeContentTypeParser("application/json");
    api.addContentTypeParser("application/json", { parseAs: "string", bodyLimit }, (req, body, done) => {
      if ((body as string).length === 0) return done(null, undefined);
      defaultJson(req, body as string, done);
    });
    api.decorateRequest("owner", "");
    api.addHook("onRequest", (req, reply, done) => {
      const verdict = checkKey(req.headers);
      if ("owner" in verdict) {
        req.owner = verdict.owner;
        done();
        return;
      }
      sendError(
        reply,
        401,
        "unauthorized",
        "missing" in verdict
          ? "an API key is required (Authorization: Bearer KEY or X-API-Key: KEY)"
          : "unknown API key",
      );
    });
    sandboxRoutes(api, { service: opts.service, publicUrl: opts.publicUrl });
    scaleRoutes(api, {
      service: opts.service,
      pools: opts.pools ?? (() => undefined),
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
      wire: (rec, base) => sandboxWire(rec, base, opts.service.queuePosition(rec.id)),
    });
  });

  let dispatcher: Dispatcher | undefined;
  app.register(async (rt) => {
    dispatcher = passThroughRoutes(rt, { service: opts.service, checkKey });
  });

  app.setNotFoundHandler(async (req, reply) =>
    sendError(reply, 404, "not_found", `no route ${req.method} ${req.url.split("?")[0]}`),
  );
  app.setErrorHandler(async (err, req, reply) => {
    const e = err as { statusCode?: number; code?: string; message: string };
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendError(reply, 413, "body_too_large", `the body is larger than ${bodyLimit} bytes`);
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, e.statusCode, "invalid_request", e.message);
    }
    req.log.error({ err }, "unhandled error");
    return sendError(reply, 500, "internal", "internal error (see the service's log)");
  });

  app.addHook("onClose", async () => {
    await dispatcher?.close();
  });
  return {
    app,
    get dispatcher() {
      return dispatcher as Dispatcher;
    },
  };
}
