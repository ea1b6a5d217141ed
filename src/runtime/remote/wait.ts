/** Polling a liveness check until it says yes (SWE-ReX `utils/wait.py`). */
import { PythonTimeoutError } from "../errors.js";
import type { IsAliveResponse } from "../protocol.js";
import type { IsAliveOptions } from "../runtime.js";
import { sleep } from "./retry.js";

export interface WaitUntilAliveOptions {
  /** Overall deadline. Default 60 000 (upstream `wait_until_alive(timeout=60.0)`). */
  timeoutMs?: number;
  /** Per-check timeout handed to `check`. */
  functionTimeoutMs?: number;
  /** Pause between checks. Default 250 (upstream). */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Calls `check` until it answers alive. Errors thrown by `check` propagate at once (a deployment uses that
 * to stop waiting for a container that already died). On timeout: upstream's TimeoutError message.
 */
export async function waitUntilAlive(
  check: (opts: IsAliveOptions) => Promise<IsAliveResponse>,
  opts: WaitUntilAliveOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const end = Date.now() + timeoutMs;
  let tries = 0;
  let last: IsAliveResponse = { is_alive: false, message: "" };
  while (Date.now() < end) {
    opts.signal?.throwIfAborted();
    last = await check(opts.functionTimeoutMs === undefined ? {} : { timeoutMs: opts.functionTimeoutMs });
    if (last.is_alive) return;
    tries += 1;
    await sleep(Math.min(opts.pollIntervalMs ?? 250, Math.max(0, end - Date.now())), opts.signal);
  }
  throw new PythonTimeoutError(
    `Runtime did not start within ${timeoutMs / 1000}s (tried to connect ${tries} times). The last await response was:\n${last.message}`,
  );
}
