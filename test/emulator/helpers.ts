import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Dispatcher, request } from "undici";
import {
  type AgsEmulator,
  type AgsEmulatorOptions,
  type BackendHandle,
  type BackendStartSpec,
  type SandboxBackend,
  signTc3,
  startAgsEmulator,
} from "../../src/emulator/ags/index.js";

export const SECRET_ID = "AKIDemulatortest0001";
export const SECRET_KEY = "emulator-secret-key-0001";

/** An emulator that accepts the test credentials, on a fresh echo backend unless `opts` names another. */
export function testEmulator(opts: Partial<AgsEmulatorOptions> = {}): Promise<AgsEmulator> {
  return startAgsEmulator({
    credentials: [{ secretId: SECRET_ID, secretKey: SECRET_KEY }],
    backend: echoBackend(),
    ...opts,
  });
}

export interface ApiCallOptions {
  secretId?: string;
  secretKey?: string;
  timestamp?: number;
  version?: string;
  service?: string;
  /** Mutates the body after signing (tamper test). */
  tamper?: (body: string) => string;
  traceId?: string;
  hostHeader?: string;
  /** X-TC-Region; null leaves the header out. */
  region?: string | null;
  /** More request headers (e.g. X-TC-Token). */
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: the envelope is checked field by field in tests
  Response: any;
}

/** Calls an action with a TC3 signature computed by our own signer (independent of the SDK). */
export async function callApi(
  endpoint: string,
  action: string,
  body: unknown,
  o: ApiCallOptions = {},
): Promise<ApiResponse> {
  const url = new URL(endpoint);
  const payload = JSON.stringify(body);
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const authorization = signTc3({
    secretId: o.secretId ?? SECRET_ID,
    secretKey: o.secretKey ?? SECRET_KEY,
    service: o.service ?? "ags",
    hostname: (o.hostHeader ?? url.host).replace(/:\d+$/, ""),
    contentType: "application/json",
    body: payload,
    timestamp,
  });
  const res = await request(`${endpoint}/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      host: o.hostHeader ?? url.host,
      authorization,
      "x-tc-action": action,
      "x-tc-version": o.version ?? "2025-09-20",
      "x-tc-timestamp": String(timestamp),
      ...(o.region === null ? {} : { "x-tc-region": o.region ?? "ap-chongqing" }),
      ...(o.traceId ? { "x-tc-traceid": o.traceId } : {}),
      ...o.headers,
    },
    body: o.tamper ? o.tamper(payload) : payload,
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await res.body.json()) as { Response: unknown };
  return { status: res.statusCode, headers: res.headers, Response: json.Response };
}

/** Calls an action and fails with the API error when there is one. */
// biome-ignore lint/suspicious/noExplicitAny: response shapes vary per action
export async function ok(endpoint: string, action: string, body: unknown): Promise<any> {
  const r = await callApi(endpoint, action, body);
  if (r.Response.Error) throw new Error(`${action}: ${r.Response.Error.Code}: ${r.Response.Error.Message}`);
  return r.Response;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function instanceStatus(endpoint: string, id: string): Promise<string> {
  const r = await ok(endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
  return r.InstanceSet[0]?.Status;
}

export async function waitStatus(
  endpoint: string,
  id: string,
  status: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `instance ${id} ${status}`,
    async () => ((await instanceStatus(endpoint, id)) === status ? true : undefined),
    timeoutMs,
  );
}

/** Creates a tool and waits until ACTIVE. */
export async function activeTool(endpoint: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await ok(endpoint, "CreateSandboxTool", {
    ToolName: `t-${Math.random().toString(36).slice(2, 10)}`,
    ToolType: "custom",
    NetworkConfiguration: { NetworkMode: "PUBLIC" },
    ...extra,
  });
  await waitFor("tool ACTIVE", async () => {
    const d = await ok(endpoint, "DescribeSandboxToolList", { ToolIds: [r.ToolId] });
    return d.SandboxToolSet[0]?.Status === "ACTIVE" ? true : undefined;
  });
  return r.ToolId;
}

/**
 * A real-socket backend for control-plane tests: each instance is an HTTP server on loopback that echoes
 * the request (method, url, headers, body), so tests can see exactly what the gateway forwarded.
 */
export function echoBackend(): SandboxBackend & { servers: Set<Server>; started: number } {
  const servers = new Set<Server>();
  const backend = {
    kind: "local" as const,
    servers,
    started: 0,
    async start(spec: BackendStartSpec): Promise<BackendHandle> {
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const body = JSON.stringify({
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          });
          res.writeHead(200, { "content-type": "application/json", "x-echo": "1" });
          res.end(body);
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      servers.add(server);
      backend.started++;
      const port = (server.address() as AddressInfo).port;
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        servers.delete(server);
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      };
      return {
        target: (p: number) =>
          spec.ports.length === 0 || spec.ports.includes(p) ? { host: "127.0.0.1", port } : undefined,
        isAlive: async () => !stopped,
        pause: async () => undefined,
        resume: async () => undefined,
        stop,
        kill: stop,
      };
    },
    async close() {
      await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
  return backend;
}

/**
 * A function that POSTs JSON to `{baseUrl}{path}` of a sandbox through the gateway (`X-Access-Token`, plus
 * `headers`) and answers the status and parsed JSON body.
 */
export function gatewayPoster(
  baseUrl: string,
  token: string,
  dispatcher: Dispatcher,
  headers: Record<string, string> = {},
): (path: string, body: unknown) => Promise<{ status: number; json: Record<string, unknown> }> {
  return async (path, body) => {
    const res = await request(`${baseUrl}${path}`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", "X-Access-Token": token, ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };
}
