/** Test helpers: a runtime server on loopback around any Runtime, and raw HTTP calls to it. */
import { connect } from "node:net";
import { Writable } from "node:stream";
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

/**
 * Sends `request` (a complete HTTP/1.1 request, byte for byte, `{host}` replaced by the server's host:port)
 * on a fresh socket and returns the status and body of the answer; the request should say
 * `Connection: close` or the server's keep-alive ends the read at the deadline.
 */
export async function rawSocket(url: string, request: string | Buffer): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const bytes =
    typeof request === "string" ? Buffer.from(request.replaceAll("{host}", `${hostname}:${port}`)) : request;
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within 30s: ${Buffer.concat(chunks).toString()}`));
    }, 30_000);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks).toString("latin1");
      const headEnd = all.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(all.slice(0, headEnd));
      if (headEnd >= 0 && length && all.length - headEnd - 4 >= Number(length[1])) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Buffer.concat(chunks).toString("utf8"));
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    socket.write(bytes);
  });
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, body, json };
}

/** A pino destination that keeps every line written to it, for tests that read logs. */
export function captureLines(): { sink: Writable; lines: string[]; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { sink, lines, text: () => lines.join("") };
}
