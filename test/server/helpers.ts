/** Test helpers: a runtime server on loopback around any Runtime, and raw HTTP calls to it. */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { request } from "undici";
import type { Runtime } from "../../src/runtime/runtime.js";
import { createRuntimeServer } from "../../src/server/runtime-server.js";

export interface LoopbackServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function serveOnLoopback(
  runtime: Runtime,
  authToken: string,
  logger?: Logger,
): Promise<LoopbackServer> {
  const app = createRuntimeServer({ runtime, authToken, ...(logger ? { logger } : {}) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== "object") throw new Error("server has no port");
  return { url: `http://127.0.0.1:${address.port}`, app, close: () => app.close() };
}

export interface RawResponse {
  status: number;
  body: string;
  json: unknown;
}

/** One HTTP request, answered as status + text (+ parsed JSON when it is JSON). */
export async function raw(
  url: string,
  opts: {
    method?: "GET" | "POST" | "PUT";
    headers?: Record<string, string>;
    json?: unknown;
    body?: string;
  } = {},
): Promise<RawResponse> {
  const headers = { ...opts.headers };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] = "application/json";
  }
  const res = await request(url, {
    method: opts.method ?? "GET",
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, body: text, json };
}
