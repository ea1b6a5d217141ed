/**
 * Typed errors of the AGS control plane. The SDK throws an untyped exception (spec/ags.md 2.5); callers here
 * get an `AgsRequestError` that names the action, the Tencent error `code` and the `requestId` to quote to
 * support. Messages are built from the server's message only, never from the request, so no SecretKey or
 * token can leak into them.
 */
import { DeploymentStartupError, SwerexError } from "../../runtime/errors.js";

export type AgsErrorKind = "api" | "http" | "transport";

export interface AgsRequestErrorInit {
  action: string;
  code: string;
  message: string;
  requestId?: string;
  traceId?: string;
  httpStatus?: number;
  kind: AgsErrorKind;
  attempts?: number;
  cause?: unknown;
}

export class AgsRequestError extends SwerexError {
  readonly action: string;
  /** The Tencent error code (`ResourceNotFound.SandboxInstance`), `HttpError.<status>` or `TransportError`. */
  readonly code: string;
  readonly requestId: string;
  readonly traceId: string;
  readonly httpStatus: number | undefined;
  readonly kind: AgsErrorKind;
  /** How many times the request was sent before giving up. */
  readonly attempts: number;
  /** The server's own message, without the action/code prefix. */
  readonly serverMessage: string;

  constructor(init: AgsRequestErrorInit) {
    const rid = init.requestId ? ` (RequestId ${init.requestId})` : "";
    super(`AGS ${init.action} failed: ${init.code}: ${init.message}${rid}`, { cause: init.cause });
    this.action = init.action;
    this.code = init.code;
    this.requestId = init.requestId ?? "";
    this.traceId = init.traceId ?? "";
    this.httpStatus = init.httpStatus;
    this.kind = init.kind;
    this.attempts = init.attempts ?? 1;
    this.serverMessage = init.message;
  }

  /** True for `code === prefix` and for any `prefix.Subcode`. */
  is(prefix: string): boolean {
    return this.code === prefix || this.code.startsWith(`${prefix}.`);
  }
}

/** A SandboxTool reached FAILED (or vanished) while we waited for it to become ACTIVE. */
export class AgsToolFailedError extends DeploymentStartupError {
  constructor(
    readonly toolId: string,
    readonly statusReason: string,
  ) {
    super(`AGS SandboxTool ${toolId} failed: ${statusReason || "no StatusReason given"}`);
  }
}

/** An instance reached a *_FAILED / STOPPED state while we waited for another state. */
export class AgsInstanceStateError extends DeploymentStartupError {
  constructor(
    readonly instanceId: string,
    readonly instanceStatus: string,
    readonly expected: string,
    readonly stopReason = "",
  ) {
    const reason = stopReason ? ` (StopReason ${stopReason})` : "";
    super(`AGS SandboxInstance ${instanceId} is ${instanceStatus}${reason}, expected ${expected}`);
  }
}

/** A wait on the control plane ran past its deadline. */
export class AgsTimeoutError extends DeploymentStartupError {}

/** `LimitExceeded.*` (a quota) or `ResourceInsufficient*` (no capacity in the region right now). */
export function isCapacityOrQuotaError(err: unknown): err is AgsRequestError {
  return (
    err instanceof AgsRequestError &&
    err.kind === "api" &&
    (err.is("LimitExceeded") || err.code.startsWith("ResourceInsufficient"))
  );
}

/** Starts were refused for quota or capacity until `startup_timeout` ran out. */
export class AgsQuotaError extends DeploymentStartupError {
  readonly code: string;
  constructor(
    readonly last: AgsRequestError,
    readonly attempts: number,
    startupTimeoutSec: number,
  ) {
    const what = last.is("LimitExceeded") ? `quota ${last.code}` : `capacity (${last.code})`;
    const advice = last.is("LimitExceeded")
      ? "stop instances you no longer need (swerex ags gc stops orphans) or ask for a higher quota"
      : "try again later or in another region";
    super(
      `AGS refused StartSandboxInstance ${attempts} time(s) within startup_timeout ${startupTimeoutSec}s for ${what}: ${last.serverMessage}; ${advice}`,
      { cause: last },
    );
    this.code = last.code;
  }
}
