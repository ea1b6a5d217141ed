import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { HOP_BY_HOP_REQUEST, HOP_BY_HOP_RESPONSE } from "../../net/hop-by-hop.js";
import type { EmulatorLogger } from "./context.js";
import type { InstanceStore } from "./instances.js";

/** `{port}-{instanceId}.{domain}` with an optional `:listenPort`. */
export interface GatewayRoute {
  port: number;
  instanceId: string;
}

export function parseGatewayHost(host: string | undefined, domain: string): GatewayRoute | undefined {
  if (!host) return undefined;
  const hostname = host.replace(/:\d+$/, "").toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!hostname.endsWith(suffix)) return undefined;
  const m = /^(\d+)-([a-z0-9]+)$/.exec(hostname.slice(0, -suffix.length));
  if (!m) return undefined;
  return { port: Number(m[1]), instanceId: m[2] as string };
}

/**
 * A host that names a sandbox port (`{port}-{id}.<some domain>`): traffic for a gateway, never for the API,
 * even when the domain is not the one this gateway serves.
 */
export function isSandboxHost(host: string | undefined): boolean {
  return !!host && /^\d+-[a-z0-9]+\.[a-z0-9.-]+$/i.test(host.replace(/:\d+$/, ""));
}

// The access token stays at the gateway.
const DROP_REQUEST_HEADERS = new Set([...HOP_BY_HOP_REQUEST, "x-access-token"]);
const DROP_RESPONSE_HEADERS = new Set(HOP_BY_HOP_RESPONSE);

export interface GatewayOptions {
  domain: string;
  instances: InstanceStore;
  /** Upstream idle/response timeout (ms). */
  upstreamTimeoutMs: number;
  logger: EmulatorLogger | undefined;
}

function sendJson(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ code: status, message });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * The sandbox gateway: routes on Host, checks `X-Access-Token` per AuthMode, and streams the request and
 * response between the client and the instance's backend (bodies are piped, never buffered).
 */
export function createGateway(opts: GatewayOptions) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const handle = (req: IncomingMessage, res: ServerResponse, route: GatewayRoute): void => {
    const inst = opts.instances.get(route.instanceId);
    if (inst?.Status !== "RUNNING" || !inst.handle) {
      req.resume();
      sendJson(res, 404, `sandbox instance ${route.instanceId} not found or not running`);
      return;
    }
    const tokenHeader = req.headers["x-access-token"];
    const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
    if (!opts.instances.tokenAllows(inst, route.port, token)) {
      req.resume();
      sendJson(res, 401, token ? "invalid or expired X-Access-Token" : "missing X-Access-Token");
      return;
    }
    const target = inst.handle.target(route.port);
    if (!target) {
      req.resume();
      sendJson(res, 502, `port ${route.port} is not exposed by sandbox instance ${route.instanceId}`);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !DROP_REQUEST_HEADERS.has(k)) headers[k] = v;
    }
    headers["x-forwarded-host"] = req.headers.host ?? "";
    headers.host = `${target.host}:${target.port}`;
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
      timeout: opts.upstreamTimeoutMs,
    });
    upstream.on("response", (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) {
        if (v !== undefined && !DROP_RESPONSE_HEADERS.has(k)) out[k] = v;
      }
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
    upstream.on("error", (err) => {
      opts.logger?.warn(
        { instanceId: route.instanceId, port: route.port, err: err.message },
        "gateway upstream error",
      );
      if (!res.headersSent)
        sendJson(res, 502, `sandbox instance ${route.instanceId} did not answer on port ${route.port}`);
      else res.destroy();
    });
    // A client that goes away mid-request must not leave the upstream request open.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  /** A sandbox host of another domain: this gateway does not know it, as a real one of another region. */
  const unknownDomain = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const hostname = (req.headers.host ?? "").replace(/:\d+$/, "").slice(0, 200);
    sendJson(res, 404, `no sandbox ${hostname} here: this gateway serves *.${opts.domain}`);
  };
  return { handle, unknownDomain, close: () => agent.destroy() };
}
