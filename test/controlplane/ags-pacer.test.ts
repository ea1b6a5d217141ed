/**
 * The shared AGS pacer's timing rules, on a fake clock with a scripted store (the store's bucket itself is
 * covered by the store contract tests; the pacer's job is what it does with the answer).
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { SHARED_RATE_MARGIN, storeAgsPacer } from "../../src/controlplane/ags-pacer.js";
import type { Store } from "../../src/store/types.js";

/** A store whose `takeRateToken` answers each call after `delayMs` (the round trip) with `waitMs`. */
function scriptedStore(answers: { delayMs: number; waitMs: number }[]) {
  const calls: { rate: number; burst: number; now: number | undefined }[] = [];
  const store = {
    takeRateToken: (_bucket: string, rate: number, burst: number, now?: number) => {
      calls.push({ rate, burst, now });
      const a = answers[calls.length - 1] ?? { delayMs: 0, waitMs: 0 };
      return new Promise<number>((resolve) => setTimeout(() => resolve(a.waitMs), a.delayMs));
    },
  } as unknown as Store;
  return { store, calls };
}

async function paceAt(store: Store): Promise<number> {
  const t0 = Date.now();
  let doneAt: number | undefined;
  void storeAgsPacer(store)({ bucket: "b", action: "StartSandboxInstance", ratePerSecond: 20 }).then(() => {
    doneAt = Date.now() - t0;
  });
  await vi.advanceTimersByTimeAsync(5_000);
  if (doneAt === undefined) throw new Error("the pacer did not let the request go");
  return doneAt;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it("takes a token at the margin below the limit, one at a time", async () => {
  const { store, calls } = scriptedStore([{ delayMs: 0, waitMs: 0 }]);
  expect(await paceAt(store)).toBe(0);
  expect(calls).toEqual([{ rate: 20 * SHARED_RATE_MARGIN, burst: 1, now: expect.any(Number) }]);
});

it("the store round trip counts toward the wait: the request goes at its slot, not after it", async () => {
  // Slot 300 ms after asking, answered 60 ms later: the request sleeps 240 ms, not 300.
  const { store, calls } = scriptedStore([{ delayMs: 60, waitMs: 300 }]);
  expect(await paceAt(store)).toBe(300);
  expect(calls).toHaveLength(1);
});

it("a request that wakes too late for its slot gives it up and takes the next one", async () => {
  // The first answer comes 400 ms after asking for a slot that was due at once (a starved event loop or a
  // slow row lock): sent now, it could share a window with the request `limit` slots later.
  const { store, calls } = scriptedStore([
    { delayMs: 400, waitMs: 0 },
    { delayMs: 0, waitMs: 120 },
  ]);
  const t0 = Date.now();
  expect(await paceAt(store)).toBe(520);
  expect(calls.map((c) => (c.now ?? 0) - t0)).toEqual([0, 400]);
});

it("a little lateness (well inside the window's tolerance) still goes", async () => {
  const { store, calls } = scriptedStore([{ delayMs: 30, waitMs: 0 }]);
  expect(await paceAt(store)).toBe(30);
  expect(calls).toHaveLength(1);
});

it("an aborted wait rejects with the abort reason and takes no further token", async () => {
  const { store, calls } = scriptedStore([{ delayMs: 0, waitMs: 1_000 }]);
  const ac = new AbortController();
  const p = storeAgsPacer(store)({ bucket: "b", action: "a", ratePerSecond: 20, signal: ac.signal });
  const settled = expect(p).rejects.toThrow("stop");
  await vi.advanceTimersByTimeAsync(100);
  ac.abort(new Error("stop"));
  await settled;
  expect(calls).toHaveLength(1);
});
