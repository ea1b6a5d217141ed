/**
 * Timers for any finite delay. Node fires a `setTimeout` longer than 2^31-1 ms (24.8 days) after 1 ms,
 * so a `timeout` of 3,000,000 s would end a command at once (issue 13). `startTimer` chains timers of at
 * most that length until the whole delay has passed; `Infinity` never fires. Every timer of the runtime
 * and server paths goes through here, so no user-supplied delay can reach `setTimeout` unchecked.
 */

/** The longest delay Node's timers honour (a signed 32-bit millisecond count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Timer {
  /** Stops the timer; calling it again, or after it fired, does nothing. */
  cancel(): void;
}

export interface TimerOptions {
  /** Do not keep the process alive for this timer (`Timeout.unref()`). */
  unref?: boolean;
}

/** Calls `fn` once after `ms` milliseconds (NaN or negative: at once, on the next turn). */
export function startTimer(ms: number, fn: () => void, opts: TimerOptions = {}): Timer {
  let handle: NodeJS.Timeout | undefined;
  let cancelled = false;
  const due = Date.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
  const arm = (left: number) => {
    if (left === Number.POSITIVE_INFINITY) return;
    handle = setTimeout(
      () => {
        if (cancelled) return;
        const rest = due - Date.now();
        if (rest > 0) arm(rest);
        else fn();
      },
      Math.min(left, MAX_TIMER_MS),
    );
    if (opts.unref) handle.unref();
  };
  arm(Number.isNaN(ms) ? 0 : Math.max(0, ms));
  return {
    cancel() {
      cancelled = true;
      if (handle) clearTimeout(handle);
    },
  };
}

/** Resolves after `ms` (any finite delay; see `startTimer`). */
export function delay(ms: number, opts: TimerOptions = {}): Promise<void> {
  return new Promise((resolve) => startTimer(ms, resolve, opts));
}

/**
 * `AbortSignal.timeout(ms)` for any delay (Node's throws above 2^32-1 ms and fires early above 2^31-1):
 * aborts with the same `TimeoutError` DOMException, and, like it, does not keep the process alive.
 */
export function timeoutSignal(ms: number): AbortSignal {
  const ac = new AbortController();
  startTimer(
    ms,
    () => ac.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    {
      unref: true,
    },
  );
  return ac.signal;
}
