/**
 * The one error type a policy backend (or the proxy itself) throws when a model call must end with an
 * OpenAI-shaped error: it carries the HTTP status and the OpenAI `error.type` / `error.code` the agent sees.
 */
export interface PolicyErrorOptions {
  status: number;
  type: string;
  code?: string;
  /** Whether an OpenAI SDK should retry (sent as `x-should-retry`; the SDK honours it). */
  retryable?: boolean;
  cause?: unknown;
}

export class PolicyError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | undefined;
  readonly retryable: boolean;

  constructor(message: string, opts: PolicyErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "PolicyError";
    this.status = opts.status;
    this.type = opts.type;
    this.code = opts.code;
    this.retryable = opts.retryable ?? false;
  }
}

/** The per-request deadline passed: the backend (upstream or trainer) did not answer in time. */
export function requestTimeoutError(timeoutS: number): PolicyError {
  return new PolicyError(`the policy did not answer within the request timeout (${timeoutS} s)`, {
    status: 504,
    type: "timeout",
    code: "request_timeout",
  });
}

/** Why a call was cancelled: the signal's reason when it is a PolicyError, otherwise a generic 499-style error. */
export function abortReasonError(signal: AbortSignal): PolicyError {
  const reason: unknown = signal.reason;
  if (reason instanceof PolicyError) return reason;
  return new PolicyError("the model call was cancelled", {
    status: 499,
    type: "cancelled",
    code: "cancelled",
  });
}

/** Normalises anything a backend threw into a PolicyError, without leaking internals into the message. */
export function toPolicyError(err: unknown): PolicyError {
  if (err instanceof PolicyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PolicyError(`policy backend failed: ${message}`, {
    status: 502,
    type: "policy_error",
    code: "policy_error",
    cause: err,
  });
}
