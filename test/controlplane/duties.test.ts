/**
 * Duty rounds across two replicas on one store (in-process SQLite, real store code): a round that runs longer
 * than the lease keeps it, so the other replica does not run the same duty at the same time (a pool refill
 * round that outlived its lease let the second replica refill too, and a pool overshot its size); and a
 * round stuck past `maxRenewMs` stops renewing, so the other replica takes the duty over.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DutyRunner } from "../../src/controlplane/fleet-duties.js";
import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/types.js";
import { until } from "./serve.js";

const INTERVAL_MS = 50;
const TTL_MS = 1000;

describe("duty rounds and their leases", () => {
  const stops: (() => Promise<void>)[] = [];
  /** Ends the held round, also when an assertion failed (stop() waits for rounds in flight). */
  let release: () => void = () => {};
  const held = () =>
    new Promise<void>((r) => {
      release = r;
    });
  afterEach(async () => {
    release();
    for (const stop of stops.splice(0)) await stop();
  });

  /** A store whose acquireDuty calls are counted per holder (the other replica's ticks, observable). */
  async function countingStore(): Promise<{ store: Store; attempts: Map<string, number> }> {
    const store = await createStore("sqlite::memory:");
    await store.migrate();
    const attempts = new Map<string, number>();
    const acquire = store.acquireDuty.bind(store);
    store.acquireDuty = (name, holder, ttlMs, now) => {
      attempts.set(holder, (attempts.get(holder) ?? 0) + 1);
      return acquire(name, holder, ttlMs, now);
    };
    stops.push(() => store.close());
    return { store, attempts };
  }

  function runner(store: Store, holder: string, run: () => Promise<void>, maxRenewMs?: number): DutyRunner {
    const r = new DutyRunner({
      store,
      holder,
      logger: pino({ level: "silent" }),
      intervalMs: INTERVAL_MS,
      ttlMs: TTL_MS,
      ...(maxRenewMs !== undefined ? { maxRenewMs } : {}),
    });
    r.add("pools", run);
    stops.unshift(() => r.stop());
    return r;
  }

  it("a round longer than the lease keeps it: the other replica never runs the duty meanwhile", async () => {
    const { store, attempts } = await countingStore();
    const gate = held();
    let aRounds = 0;
    let bRounds = 0;
    const a = runner(store, "a", async () => {
      aRounds++;
      if (aRounds === 1) await gate;
    });
    const b = runner(store, "b", async () => {
      bRounds++;
    });
    a.start();
    await until("a's first round", async () => (aRounds === 1 ? true : undefined), 10_000);
    b.start();
    const before = attempts.get("b") ?? 0;
    // Enough of b's ticks to span three lease lifetimes of a's one round.
    await until(
      "b ticking past three leases",
      async () => ((attempts.get("b") ?? 0) - before >= (3 * TTL_MS) / INTERVAL_MS ? true : undefined),
      60_000,
    );
    expect(bRounds).toBe(0);
    expect((await store.getDuty("pools"))?.holder).toBe("a");
  }, 90_000);

  it("a round stuck past maxRenewMs lets its lease expire, and the other replica takes the duty over", async () => {
    const { store } = await countingStore();
    const gate = held();
    let aRounds = 0;
    let bRounds = 0;
    const a = runner(
      store,
      "a",
      async () => {
        aRounds++;
        if (aRounds === 1) await gate;
      },
      300,
    );
    const b = runner(store, "b", async () => {
      bRounds++;
    });
    a.start();
    await until("a's first round", async () => (aRounds === 1 ? true : undefined), 10_000);
    b.start();
    await until("b took the duty over", async () => (bRounds > 0 ? true : undefined), 30_000);
    expect((await store.getDuty("pools"))?.holder).toBe("b");
  }, 60_000);
});
