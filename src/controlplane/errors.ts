/**
 * The service's failures, classified for the caller. The HTTP layer maps each `code` to a status
 * (src/server/control/errors.ts); the domain itself knows nothing of HTTP.
 */
import type { ConfigIssue } from "../config/index.js";
import type { SandboxRecord } from "../store/types.js";

export type ServiceErrorCode =
  /** Unknown id, or another key's sandbox. */
  | "not_found"
  /** The request is fine but the sandbox's state or backend does not allow it (pause on docker). */
  | "conflict"
  /** A field is invalid; `issues` name each one. */
  | "invalid_request"
  /** Over `max_sandboxes` (total or per key); `retryAfterSec` says when to try again. */
  | "limit_exceeded"
  /** The backend failed to start the sandbox; `sandbox` is the stored (failed) record. */
  | "start_failed"
  /** The service is shutting down. */
  | "unavailable";

export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  readonly issues?: ConfigIssue[];
  readonly retryAfterSec?: number;
  readonly sandbox?: SandboxRecord;

  constructor(
    code: ServiceErrorCode,
    message: string,
    extra: { issues?: ConfigIssue[]; retryAfterSec?: number; sandbox?: SandboxRecord } = {},
  ) {
    super(message);
    this.name = "ServiceError";
    this.code = code;
    Object.assign(this, extra);
  }
}

export function notFound(id: string): ServiceError {
  return new ServiceError("not_found", `no sandbox ${id}`);
}

/** The class name and message of a backend failure, as stored in a record's `error`. */
export function errorInfo(err: unknown): { class: string; message: string } {
  if (err instanceof Error) return { class: err.constructor.name || err.name, message: err.message };
  return { class: "Error", message: String(err) };
}
