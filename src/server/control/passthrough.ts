/**
 * The runtime pass-through: `/v1/sandboxes/{id}/runtime/<endpoint>` forwards to the sandbox's own
 * swerex-remote byte for byte (method, path, query, body stream, status, headers, body), so SWE-ReX's
 * `RemoteRuntime(host=".../v1/sandboxes/ID/runtime", auth_token=API_KEY)` works unchanged. The caller's
 * service key is checked here and removed; the sandbox's own credentials (swerex auth token, AGS access
 * token) are added and never leave the service. Auth failures answer as swerex-remote does (403 without a
 * key, 401 with a wrong one, `{"detail": ...}`); bodies are streamed (uploads are not buffered).
 */
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Agent, type Dispatcher } from "undici";
import { type SandboxService, ServiceError } from "../../controlplane/index.js";
import { HOP_BY_HOP_REQUEST, HOP_BY_HOP_RESPONSE } from "../../net/hop-by-hop.js";
import type { KeyVerdict } from "./auth.js";

/** Hop-by-hop headers, and those that carry the caller's service key: never forwarded. */
const DROP_REQUEST = new Set([...HOP_BY_HOP_REQUEST, "host", "x-api-key", "authorization", "x-access-token"]);
const DROP_RESPONSE = new Set(HOP_BY_HOP_RESPONSE);

export interface PassThroughOptions {
  service: SandboxService;
  checkKey: (headers: IncomingHttpHeaders) => KeyVerdict;
  /** Connection pool to the sandboxes; default: a keep-alive agent, no undici time limits (commands run long). */
  dispatcher?: Dispatcher;
}

export function passThroughRoutes(app: FastifyInstance, opts: PassThroughOptions): Dispatcher {
  const dispatcher =
    opts.dispatcher ??
    new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, headersTimeout: 0, bodyTimeout: 0 });

  // Bodies are not parsed (nor limited) here: the stream goes to the sandbox as it comes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));

  const handler = async (
    req: FastifyRequest<{ Params: { id: string; "*"?: string } }>,
    reply: FastifyReply,
  ) => {
    const verdict = opts.checkKey(req.headers);
    if ("missing" in verdict) return reply.code(403).send({ detail: "Not authenticated" });
    if ("invalid" in verdict) return reply.code(401).send({ detail: "Invalid API Key" });
    let target: Awaited<ReturnType<SandboxService["runtimeTarget"]>>;
    try {
      target = await opts.service.runtimeTarget(verdict.owner, req.params.id);
    } catch (err) {
      if (err instanceof ServiceError && err.code === "not_found")
        return reply.code(404).send({ detail: err.message });
      if (err instanceof ServiceError) return reply.code(409).send({ detail: err.message });
      throw err;
    }
    const rest = req.params["*"] ?? "";
    const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !DROP_REQUEST.has(k)) headers[k] = v;
    }
    Object.assign(headers, target.headers);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const abort = new AbortController();
    // The caller went away before the answer was complete: stop the upstream request too.
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    let res: Dispatcher.ResponseData;
    try {
      res = await (target.dispatcher ?? dispatcher).request({
        origin: new URL(target.url).origin,
        path: `${new URL(target.url).pathname.replace(/\/$/, "")}/${rest}${query}`,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: hasBody
          ? (req.body as NodeJS.ReadableStream | undefined as Dispatcher.DispatchOptions["body"])
          : undefined,
        signal: abort.signal,
      });
    } catch (err) {
      req.log.warn({ sandbox: req.params.id, error: (err as Error).message }, "sandbox runtime unreachable");
      // 502 is what RemoteRuntime retries (with the same X-Request-ID).
      return reply.code(502).send({ detail: `sandbox ${req.params.id}: runtime unreachable` });
    }
    reply.code(res.statusCode);
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined && !DROP_RESPONSE.has(k)) reply.header(k, v);
    }
    return reply.send(res.body);
  };

  app.all("/v1/sandboxes/:id/runtime", handler);
  app.all("/v1/sandboxes/:id/runtime/*", handler);
  return dispatcher;
}
