/**
 * Request bodies as FastAPI reads them (issue 11): a JSON endpoint parses the body as JSON when the
 * content type is missing or JSON (`application/json`, `application/<anything>+json`) and otherwise keeps
 * the raw bytes, which then fail validation with FastAPI's 422 shape; an endpoint without a body ignores
 * whatever body and content type arrive (SWE-ReX's `close()` under aiohttp 3.8 sends
 * `Content-Type: application/octet-stream` with an empty body). Nothing here answers 415.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { jsonDecodeIssue, RequestValidationError } from "./validation.js";

/** A request body as received: parsed only by endpoints that take one (`jsonBodyOf`). */
export class RawBody {
  constructor(readonly bytes: Buffer) {}
}

/** FastAPI's rule (`get_request_handler`): no content type, or `application/json` / `application/*+json`. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === "") return true;
  const mime = (header.split(";")[0] ?? "").trim().toLowerCase();
  const [main, sub] = mime.split("/");
  if (main !== "application" || sub === undefined) return false;
  return sub === "json" || sub.endsWith("+json");
}

/**
 * Replaces fastify's parsers (which answer 415 to an unknown content type) with one that accepts any
 * and keeps the bytes; parsing waits until an endpoint asks (bodyless ones never do, as in FastAPI).
 * Parsers registered later for specific types (multipart) still win.
 */
export function acceptAnyContentType(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => {
    done(null, new RawBody(body as Buffer));
  });
}

/**
 * The body a JSON endpoint validates. An empty body is no body (422 "Field required"); a JSON content
 * type (or none) is parsed, bad JSON being FastAPI's `json_invalid` 422; other bytes fail as FastAPI
 * fails them: the model wants an object.
 */
export function jsonBodyOf(req: FastifyRequest): unknown {
  const body = req.body;
  if (!(body instanceof RawBody)) return body;
  if (body.bytes.length === 0) return undefined;
  if (isJsonContentType(req.headers["content-type"])) {
    try {
      return JSON.parse(body.bytes.toString("utf8"));
    } catch (err) {
      throw new RequestValidationError([jsonDecodeIssue((err as Error).message)]);
    }
  }
  throw new RequestValidationError([
    {
      type: "model_attributes_type",
      loc: ["body"],
      msg: "Input should be a valid dictionary or object to extract fields from",
    },
  ]);
}

/** A digest of the body as received, for the request-id cache: the same id with another body is another request. */
export function bodyDigest(body: unknown): string {
  const bytes = body instanceof RawBody ? body.bytes : Buffer.alloc(0);
  return createHash("sha256").update(bytes).digest("base64url");
}
