/**
 * SWE-ReX's `_wait_until_alive`: poll an `is_alive` function until it answers true or time runs out.
 * `RemoteRuntime.waitUntilAlive` and every deployment that starts a server (docker, tencentags) wait with this.
 */
import { PythonTimeoutError } from "./errors.js";
import type { IsAliveResponse } from "./protocol.js";
import { sleep } from "./sleep.js";
import { startTimer } from "./timer.js";

export interface WaitUntilAliveOptions {
  /** Overall deadline in ms (upstream `timeout`, default 10 s). */
  timeoutMs?: number;
  /** Passed to each `fn` call as its own deadline (upstream `function_timeout`, default 0.1 s). */
  functionTimeoutMs?: number;
  /** Pause between failed attempts (upstream `sleep`, 0.25 s). */
  pollIntervalMs?: number;
  /** Aborting stops the wait at once with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `fn(functionTimeoutMs)` until it answers `is_alive: true`, pausing `pollIntervalMs` after each failure, and
 * returns that answer. An exception thrown by `fn` (e.g. "container process terminated") ends the wait at
 * once. When time runs out, throws `TimeoutError` with upstream's message:
 * `Runtime did not start within {timeout}s (tried to connect {n} times). The last await response was:\n{message}`.
 * A call of `fn` that does not settle by the deadline counts as a failed attempt.
 */
export async function waitUntilAlive(
  fn: (timeoutMs: number) => Promise<IsAliveResponse>,
  opts: WaitUntilAliveOptions = {},
): Promise<IsAliveResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const functionTimeoutMs = opts.functionTimeoutMs ?? 100;
  const pollIntervalMs = opts.pollIntervalMs ?? 250;
  const { signal } = opts;
  signal?.throwIfAborted();

  const end = Date.now() + timeoutMs;
  let attempts = 0;
  let last: IsAliveResponse | undefined;
  // Named after the configured timeout, not the time left (which depends on how busy the machine is).
  const unanswered = `is_alive did not answer within the ${pySeconds(timeoutMs)}s start timeout`;
  while (Date.now() < end) {
    last = await raceDeadline(fn(functionTimeoutMs), end - Date.now(), unanswered, signal);
    if (last.is_alive) return last;
    await sleep(Math.min(pollIntervalMs, Math.max(0, end - Date.now())), signal);
    attempts++;
  }
  throw new PythonTimeoutError(
    `Runtime did not start within ${pySeconds(timeoutMs)}s (tried to connect ${attempts} times). ` +
      `The last await response was:\n${last?.message ?? "(no attempt was made)"}`,
  );
}

/** Seconds as Python prints a float: 180000 ms → "180.0", 1500 ms → "1.5". */
function pySeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? s.toFixed(1) : String(s);
}

/** `p`, or a failed answer when it does not settle within `ms`; the signal's reason when aborted. */
function raceDeadline(
  p: Promise<IsAliveResponse>,
  ms: number,
  unanswered: string,
  signal?: AbortSignal,
): Promise<IsAliveResponse> {
  return new Promise((resolve, reject) => {
    const done = () => {
      timer.cancel();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal?.reason);
    };
    const timer = startTimer(ms, () => {
      done();
      resolve({ is_alive: false, message: unanswered });
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then(
      (r) => {
        done();
        resolve(r);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}
