import { describe, expect, it } from "vitest";
import {
  AdmissionQueue,
  QueueFullError,
  QueueTimeoutError,
  type Reservation,
} from "../../src/controlplane/admission.js";

/** A capacity the test controls: `free` slots, minus whatever the queue holds as reservations. */
function capacity(free: number) {
  const c = { free };
  const q = new AdmissionQueue({ maxQueue: 3, room: () => c.free, pollMs: 10_000 });
  return { c, q };
}

const LONG = 30_000;

describe("admission queue", () => {
  it("grants at once while there is room, and holds granted slots until released", async () => {
    const { q } = capacity(2);
    const a = await q.acquire(1, { timeoutMs: LONG });
    const b = await q.acquire(1, { timeoutMs: LONG });
    expect([a.waitedMs, b.waitedMs, q.reserved]).toEqual([0, 0, 2]);
    // No slot left: a third waits (it would get one of the two held slots otherwise).
    const positions: number[] = [];
    const c = q.acquire(1, { timeoutMs: LONG, onPosition: (p) => positions.push(p) });
    await expect.poll(() => q.length).toBe(1);
    expect(positions).toEqual([1]);
    a.release();
    const granted = await c;
    expect(granted.count).toBe(1);
    expect(q.reserved).toBe(2);
    b.release();
    granted.release();
    granted.release(); // idempotent
    expect(q.reserved).toBe(0);
  });

  it("grants strictly in FIFO order and reports positions as the queue moves", async () => {
    const { c, q } = capacity(0);
    const order: string[] = [];
    const pos: Record<string, number[]> = { x: [], y: [], z: [] };
    const waiters = ["x", "y", "z"].map((n) =>
      q.acquire(1, { timeoutMs: LONG, onPosition: (p) => pos[n]?.push(p) }).then((r: Reservation) => {
        order.push(n);
        return r;
      }),
    );
    await expect.poll(() => q.length).toBe(3);
    c.free = 1;
    q.notify();
    await waiters[0];
    expect(order).toEqual(["x"]);
    expect(pos).toEqual({ x: [1], y: [2, 1], z: [3, 2] });
    c.free = 3; // x's slot is still held, so two more fit
    q.notify();
    await Promise.all(waiters);
    expect(order).toEqual(["x", "y", "z"]);
  });

  it("a batch at the head is not overtaken by a single behind it, and is granted all at once", async () => {
    const { c, q } = capacity(1);
    const order: string[] = [];
    const batch = q.acquire(3, { timeoutMs: LONG }).then((r) => {
      order.push("batch");
      return r;
    });
    const single = q.acquire(1, { timeoutMs: LONG }).then((r) => {
      order.push("single");
      return r;
    });
    await expect.poll(() => q.length).toBe(2);
    q.notify();
    // One slot is free, but the batch needs three: nobody moves.
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    c.free = 4;
    q.notify();
    const b = await batch;
    await single;
    expect(b.count).toBe(3);
    expect(order).toEqual(["batch", "single"]);
    expect(q.reserved).toBe(4);
  });

  it("a waiter leaves at queue_timeout holding nothing, and the one behind it moves up", async () => {
    const { c, q } = capacity(0);
    const first = q.acquire(2, { timeoutMs: 50 });
    const secondPos: number[] = [];
    const second = q.acquire(1, { timeoutMs: LONG, onPosition: (p) => secondPos.push(p) });
    await expect(first).rejects.toBeInstanceOf(QueueTimeoutError);
    await expect(first).rejects.toThrow(/within queue_timeout/);
    expect(secondPos).toEqual([2, 1]);
    c.free = 1;
    q.notify();
    expect((await second).count).toBe(1);
    expect(q.reserved).toBe(1);
  });

  it("refuses at once when the queue is full (429), or when queue_timeout is 0 and there is no room", async () => {
    const { q } = capacity(0);
    const waiting = [1, 2, 3].map(() => q.acquire(1, { timeoutMs: LONG }));
    const full = q.acquire(1, { timeoutMs: LONG });
    await expect(full).rejects.toBeInstanceOf(QueueFullError);
    await expect(full).rejects.toMatchObject({
      retryAfterSec: 5,
      message: "the admission queue is full (3 waiting)",
    });
    await expect(q.acquire(1, { timeoutMs: 0 })).rejects.toBeInstanceOf(QueueFullError);
    q.close();
    for (const w of waiting) await expect(w).rejects.toThrow(/shutting down/);
    expect(q.length).toBe(0);
  });

  it("an aborted waiter leaves with the abort reason", async () => {
    const { q } = capacity(0);
    const ac = new AbortController();
    const w = q.acquire(1, { timeoutMs: LONG, signal: ac.signal });
    await expect.poll(() => q.length).toBe(1);
    ac.abort(new Error("client went away"));
    await expect(w).rejects.toThrow("client went away");
    expect(q.length).toBe(0);
  });

  it("notices room freed elsewhere (another replica) by polling while someone waits", async () => {
    const c = { free: 0 };
    const q = new AdmissionQueue({ maxQueue: 10, room: () => c.free, pollMs: 20 });
    const w = q.acquire(1, { timeoutMs: LONG });
    await expect.poll(() => q.length).toBe(1);
    c.free = 1; // nobody calls notify()
    expect((await w).count).toBe(1);
  });

  it("rejects a count below one", async () => {
    const { q } = capacity(5);
    await expect(q.acquire(0, { timeoutMs: LONG })).rejects.toThrow("count must be >= 1, got 0");
  });
});
