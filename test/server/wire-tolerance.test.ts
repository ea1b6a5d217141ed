/**
 * Issue 11 item 1: the server accepts what FastAPI accepts. Each request below is what a SWE-ReX client
 * sends, byte for byte: `RemoteRuntime` under aiohttp 3.8 (Debian's; a bodyless POST gets
 * `Content-Type: application/octet-stream`), under aiohttp 3.9+ (no content type), and `requests`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { type LoopbackServer, rawSocket, serveOnLoopback } from "./helpers.js";

const KEY = "wire-key";

/** One HTTP/1.1 request as the named client writes it. */
function aiohttp38(path: string, body?: string): string {
  const lines = [
    `POST ${path} HTTP/1.1`,
    "Host: {host}",
    `X-API-Key: ${KEY}`,
    "Accept: */*",
    "Accept-Encoding: gzip, deflate",
    "User-Agent: Python/3.11 aiohttp/3.8.4",
    `Content-Length: ${Buffer.byteLength(body ?? "")}`,
    `Content-Type: ${body === undefined ? "application/octet-stream" : "application/json"}`,
    "Connection: close",
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}

function aiohttp310(path: string, body?: string): string {
  const lines = [
    `POST ${path} HTTP/1.1`,
    "Host: {host}",
    `X-API-Key: ${KEY}`,
    "Accept: */*",
    "Accept-Encoding: gzip, deflate, br",
    "User-Agent: Python/3.12 aiohttp/3.10.5",
    `Content-Length: ${Buffer.byteLength(body ?? "")}`,
    ...(body === undefined ? [] : ["Content-Type: application/json"]),
    "Connection: close",
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}

function requestsLib(method: string, path: string, body?: string): string {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    "Host: {host}",
    "User-Agent: python-requests/2.31.0",
    "Accept-Encoding: gzip, deflate",
    "Accept: */*",
    "Connection: close",
    `X-API-Key: ${KEY}`,
    ...(body === undefined
      ? method === "POST"
        ? ["Content-Length: 0"]
        : []
      : [`Content-Length: ${Buffer.byteLength(body)}`, "Content-Type: application/json"]),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}

/** Any request with the given content type and body. */
function post(path: string, contentType: string | undefined, body: string): string {
  const lines = [
    `POST ${path} HTTP/1.1`,
    "Host: {host}",
    `X-API-Key: ${KEY}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(contentType === undefined ? [] : [`Content-Type: ${contentType}`]),
    "Connection: close",
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

const EXECUTE = JSON.stringify({ command: "echo hi", shell: true });

describe("wire tolerance (FastAPI's content-type rules)", () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await serveOnLoopback(new DummyRuntime(), KEY);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers 200 to POST /close as aiohttp 3.8 sends it (application/octet-stream, empty body)", async () => {
    const r = await rawSocket(server.url, aiohttp38("/close"));
    expect({ status: r.status, json: r.json }).toEqual({ status: 200, json: {} });
  });

  it("answers 200 to POST /close from aiohttp 3.10 and requests, and ignores any body on bodyless endpoints", async () => {
    for (const req of [
      aiohttp310("/close"),
      requestsLib("POST", "/close"),
      post("/close", "text/plain", "whatever"),
      post("/close", "application/x-www-form-urlencoded", "a=1"),
      post("/close", "application/json", "{not json"),
      requestsLib("GET", "/is_alive"),
    ]) {
      const r = await rawSocket(server.url, req);
      expect({ req: req.split("\r\n")[0], status: r.status }).toEqual({
        req: req.split("\r\n")[0],
        status: 200,
      });
    }
  });

  it("parses JSON bodies from aiohttp 3.8, 3.10 and requests", async () => {
    for (const req of [
      aiohttp38("/execute", EXECUTE),
      aiohttp310("/execute", EXECUTE),
      requestsLib("POST", "/execute", EXECUTE),
    ]) {
      const r = await rawSocket(server.url, req);
      expect({ status: r.status, json: r.json }).toEqual({
        status: 200,
        json: { stdout: "", stderr: "", exit_code: 0 },
      });
    }
  });

  it("parses the body as JSON when the content type is missing, application/json; charset or *+json", async () => {
    for (const type of [
      undefined,
      "application/json; charset=utf-8",
      "application/vnd.api+json",
      "Application/JSON",
    ]) {
      const r = await rawSocket(server.url, post("/execute", type, EXECUTE));
      expect({ type, status: r.status }).toEqual({ type, status: 200 });
    }
  });

  it("gives FastAPI's 422 for a JSON endpoint sent another content type", async () => {
    const r = await rawSocket(server.url, post("/execute", "text/plain", EXECUTE));
    expect({ status: r.status, json: r.json }).toEqual({
      status: 422,
      json: {
        detail: [
          {
            type: "model_attributes_type",
            loc: ["body"],
            msg: "Input should be a valid dictionary or object to extract fields from",
          },
        ],
      },
    });
    const empty = await rawSocket(server.url, post("/execute", "application/octet-stream", ""));
    expect({ status: empty.status, json: empty.json }).toEqual({
      status: 422,
      json: { detail: [{ type: "missing", loc: ["body"], msg: "Field required" }] },
    });
  });

  it("gives FastAPI's json_invalid 422 for malformed JSON", async () => {
    const r = await rawSocket(server.url, post("/execute", "application/json", "{oops"));
    expect(r.status).toBe(422);
    expect((r.json as { detail: { type: string; loc: unknown[] }[] }).detail[0]).toMatchObject({
      type: "json_invalid",
      loc: ["body", 0],
    });
  });
});
