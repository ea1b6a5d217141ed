/**
 * Issue 13 item 2: Node fires a timer longer than 2^31-1 ms after 1 ms. `startTimer` (unit, fake clock)
 * chains timers; the runtime (real bash, real processes) honours timeouts above 2,147,483.647 s.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { LocalRuntime } from "../../src/runtime/local/index.js";
import { MAX_TIMER_MS, startTimer, timeoutSignal } from "../../src/runtime/timer.js";

/** Far above Node's timer limit: 34.7 days. */
const HUGE_S = 3_000_000;

describe("startTimer", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires only when a delay above 2^31-1 ms has fully passed", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    startTimer(HUGE_S * 1000, fn);
    vi.advanceTimersByTime(10);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(HUGE_S * 1000 - MAX_TIMER_MS - 11);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("never fires for Infinity, and cancel stops a chained timer", () => {
    vi.useFakeTimers();
    const never = vi.fn();
    const cancelled = vi.fn();
    startTimer(Number.POSITIVE_INFINITY, never);
    const t = startTimer(HUGE_S * 1000, cancelled);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    t.cancel();
    vi.advanceTimersByTime(HUGE_S * 1000);
    expect(never).not.toHaveBeenCalled();
    expect(cancelled).not.toHaveBeenCalled();
  });

  it("timeoutSignal accepts delays AbortSignal.timeout rejects, and aborts with a TimeoutError", () => {
    vi.useFakeTimers();
    expect(() => AbortSignal.timeout(HUGE_S * 1000 * 10)).toThrow(RangeError);
    const s = timeoutSignal(HUGE_S * 1000);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    expect(s.aborted).toBe(false);
    vi.advanceTimersByTime(HUGE_S * 1000);
    expect(s.aborted).toBe(true);
    expect((s.reason as DOMException).name).toBe("TimeoutError");
  });
});

describe("the local runtime with timeouts above Node's timer limit", () => {
  const rt = new LocalRuntime();
  afterAll(async () => {
    await rt.close();
  });

  it("a session with startup_timeout 3e6 s starts, and a command with timeout 3e6 s runs to its end", async () => {
    await rt.createSession({ session: "huge", startup_timeout: HUGE_S });
    const r = await rt.runInSession({
      session: "huge",
      command: "sleep 0.3; echo finished",
      timeout: HUGE_S,
    });
    expect(r).toMatchObject({ output: "finished\n", exit_code: 0 });
  });

  it("execute with timeout 3e6 s runs to its end", async () => {
    const r = await rt.execute({ command: "sleep 0.3; echo finished", shell: true, timeout: HUGE_S });
    expect(r).toEqual({ stdout: "finished\n", stderr: "", exit_code: 0 });
  });
});
