/** Which failures RemoteRuntime retries, and how long it waits between attempts. */

/** Gateway statuses that mean "try again": the request most likely never reached the runtime server. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** A connection-level failure (refused, reset, closed). Our own deadline is not one: it is final. */
export function isTransientTransportError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && TRANSIENT_CODES.has(code)) return true;
  // Happy-eyeballs connects (localhost → ::1 and 127.0.0.1) fail with an AggregateError of both attempts.
  if (err instanceof AggregateError) return err.errors.some(isTransientTransportError);
  return err.cause !== undefined && err.cause !== err && isTransientTransportError(err.cause);
}

/** Upstream's schedule: `min(2 * previous + U(0, 0.5), max)` seconds. */
export function nextBackoff(
  previousSeconds: number,
  maxSeconds: number,
  random: () => number = Math.random,
): number {
  return Math.min(previousSeconds * 2 + random() * 0.5, maxSeconds);
}
