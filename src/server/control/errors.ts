/** Domain failures as HTTP answers: one status per `ServiceError` code, one JSON error shape. */
import type { FastifyReply } from "fastify";
import { ServiceError } from "../../controlplane/index.js";
import type { ErrorBodyWire } from "./schemas.js";
import { sandboxWire } from "./wire.js";

const STATUS: Record<ServiceError["code"], number> = {
  not_found: 404,
  conflict: 409,
  invalid_request: 422,
  limit_exceeded: 429,
  start_failed: 502,
  unavailable: 503,
};

export function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorBodyWire["error"]["code"],
  message: string,
  extra: Omit<ErrorBodyWire["error"], "code" | "message"> = {},
): FastifyReply {
  return reply.code(status).send({ error: { code, message, ...extra } });
}

/** A ServiceError's answer; undefined for anything else (the caller's generic handler takes it). */
export function sendServiceError(reply: FastifyReply, err: unknown, base: string): FastifyReply | undefined {
  if (!(err instanceof ServiceError)) return undefined;
  if (err.retryAfterSec !== undefined) reply.header("retry-after", String(err.retryAfterSec));
  const body: ErrorBodyWire = {
    error: {
      code: err.code,
      message: err.message,
      ...(err.issues ? { issues: err.issues.map((i) => ({ field: i.where, message: i.message })) } : {}),
      ...(err.sandbox?.error ? { class: err.sandbox.error.class } : {}),
    },
    ...(err.sandbox ? { sandbox: sandboxWire(err.sandbox, base) } : {}),
  };
  return reply.code(STATUS[err.code]).send(body);
}
