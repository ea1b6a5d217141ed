/**
 * Which AGS failures are worth another try, and how long to wait before it. Throttling, internal errors,
 * "request in progress" and transport failures are transient; everything else (bad parameters, auth,
 * not found, quota) will fail the same way again.
 */
import type { AgsRequestError } from "./errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First backoff step, ms. */
  baseDelayMs: number;
  /** Upper bound of one backoff step, ms. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 8, baseDelayMs: 200, maxDelayMs: 5000 };

export function isRetryable(err: AgsRequestError): boolean {
  if (err.kind === "transport") return true;
  if (err.kind === "http") return err.httpStatus === 429 || (err.httpStatus ?? 0) >= 500;
  return (
    err.is("RequestLimitExceeded") ||
    err.is("InternalError") ||
    err.code === "FailedOperation.RequestInProgress"
  );
}

/**
 * Exponential backoff with "equal jitter": half of the step is fixed, half random, so concurrent clients
 * that failed together spread out but none retries immediately.
 */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return step / 2 + random() * (step / 2);
}
