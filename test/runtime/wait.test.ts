import { describe, expect, it } from "vitest";
import { type IsAliveResponse, PythonTimeoutError, sleep, waitUntilAlive } from "../../src/runtime/index.js";

const no = (message: string): IsAliveResponse => ({ is_alive: false, message });

describe("waitUntilAlive", () => {
  it("returns the first alive answer, passing the per-call timeout", async () => {
    const seen: number[] = [];
    let n = 0;
    const r = await waitUntilAlive(
      async (t) => {
        seen.push(t);
        n++;
        return n < 3 ? no(`try ${n}`) : { is_alive: true, message: "up" };
      },
      { timeoutMs: 20_000, functionTimeoutMs: 150, pollIntervalMs: 10 },
    );
    expect(r).toEqual({ is_alive: true, message: "up" });
    expect(seen).toEqual([150, 150, 150]);
  });

  it("times out with upstream's message, the attempt count and the last answer", async () => {
    let n = 0;
    const err = await waitUntilAlive(
      async () => {
        n++;
        return no(`refused ${n}`);
      },
      { timeoutMs: 300, pollIntervalMs: 50 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonTimeoutError);
    expect((err as Error).message).toBe(
      `Runtime did not start within 0.3s (tried to connect ${n} times). The last await response was:\nrefused ${n}`,
    );
    expect(n).toBeGreaterThan(1);
  });

  it("prints whole seconds as Python floats", async () => {
    await expect(
      waitUntilAlive(async () => no("x"), { timeoutMs: 1000, pollIntervalMs: 400 }),
    ).rejects.toThrow(/^Runtime did not start within 1\.0s \(tried to connect \d+ times\)/);
  });

  it("lets an exception from the check end the wait at once", async () => {
    let n = 0;
    const err = await waitUntilAlive(
      async () => {
        n++;
        throw new Error("Container process terminated.");
      },
      { timeoutMs: 30_000 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe("Container process terminated.");
    expect(n).toBe(1);
  });

  it("counts a check that never answers as failed at the deadline", async () => {
    const started = Date.now();
    const err = await waitUntilAlive(() => new Promise<IsAliveResponse>(() => {}), { timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe(
      "Runtime did not start within 0.3s (tried to connect 1 times). The last await response was:\nis_alive did not answer within the 0.3s start timeout",
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("names the configured timeout when a later check never answers, however long the first took", async () => {
    let n = 0;
    const err = await waitUntilAlive(
      async () => {
        n++;
        if (n === 1) {
          await sleep(50);
          return no("not yet");
        }
        return new Promise<IsAliveResponse>(() => {});
      },
      { timeoutMs: 2000, pollIntervalMs: 10 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "Runtime did not start within 2.0s (tried to connect 2 times). The last await response was:\nis_alive did not answer within the 2.0s start timeout",
    );
  });

  it("stops when the signal aborts, with its reason", async () => {
    const ac = new AbortController();
    const reason = new Error("cancelled by user");
    setTimeout(() => ac.abort(reason), 100);
    await expect(
      waitUntilAlive(async () => no("x"), { timeoutMs: 30_000, pollIntervalMs: 20, signal: ac.signal }),
    ).rejects.toBe(reason);
    await expect(waitUntilAlive(async () => no("x"), { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });
});

describe("sleep", () => {
  it("rejects at once with the reason when the signal has already aborted", async () => {
    const reason = new Error("gone");
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("wakes early with the signal's reason when it aborts mid-sleep", async () => {
    const ac = new AbortController();
    const reason = new Error("stop");
    setTimeout(() => ac.abort(reason), 50);
    const started = Date.now();
    await expect(sleep(60_000, ac.signal)).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("resolves after the pause when nothing aborts", async () => {
    const ac = new AbortController();
    await expect(sleep(20, ac.signal)).resolves.toBeUndefined();
    await expect(sleep(-5)).resolves.toBeUndefined();
  });
});
