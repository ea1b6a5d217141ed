/**
 * The reaper's retry of stops, with two replicas (two services, each with its own liveness lease) on one
 * real SQLite store: a stop another live replica is running is not sent twice; a stop that failed, one
 * whose replica died, and a claim that made no progress for `STOP_CLAIM_STALE_MS` are retried.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DummyBackend, Reaper, SandboxService } from "../../src/controlplane/index.js";
import { livenessDuty } from "../../src/controlplane/liveness.js";
import { STOP_CLAIM_STALE_MS } from "../../src/controlplane/reaper.js";
import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/types.js";
import { until } from "./serve.js";

const LEASE_MS = 60_000;

/** A dummy backend whose stops are counted, and fail or wait for a release while told to. */
class StopBackend extends DummyBackend {
  stops = 0;
  failNext = false;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  override async stop(): Promise<void> {
    this.stops++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("backend unreachable");
    }
    await this.gate;
  }
}

interface Replica {
  starter: string;
  backend: StopBackend;
  service: SandboxService;
}

describe("reaper: stop retries across replicas", () => {
  let store: Store | undefined;
  const replicas: Replica[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      r.backend.release();
      await r.service.drain();
      await r.backend.close();
    }
    await store?.close();
    store = undefined;
  });

  async function replica(name: string): Promise<Replica> {
    store ??= await createStore("sqlite::memory:");
    await store.migrate();
    const starter = `${name}/life`;
    await store.acquireDuty(livenessDuty(starter), name, LEASE_MS);
    const backend = new StopBackend();
    const service = new SandboxService({
      store,
      serviceId: "svc-reaper",
      starter,
      backends: new Map([["dummy", backend]]),
      defaults: { tree: {}, defaultType: "dummy" },
      defaultTtlSec: 600,
      maxTtlSec: 600,
      maxSandboxes: 0,
      maxSandboxesPerKey: 0,
      logger: pino({ level: "silent" }),
    });
    const r = { starter, backend, service };
    replicas.push(r);
    return r;
  }

  /** Until the record is `stopping` (its stop claimed and under way). */
  const stoppingNow = (id: string) =>
    until(`${id} stopping`, async () =>
      (await store?.getSandbox(id))?.state === "stopping" ? true : undefined,
    );

  function reaperOf(r: Replica, now?: () => number): Reaper {
    return new Reaper({
      store: store as Store,
      service: r.service,
      holder: r.starter,
      logger: pino({ level: "silent" }),
      ...(now ? { now } : {}),
    });
  }

  it("leaves a stop another live replica is running to it", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    const { record } = await a.service.create("owner", {});
    a.backend.hold();
    const stopping = a.service.stop(record.id);
    await stoppingNow(record.id);
    expect((await store?.getSandbox(record.id))?.starter).toBe(a.starter);
    const reaper = reaperOf(b);
    await reaper.reapOnce();
    await reaper.reapOnce();
    expect(b.backend.stops).toBe(0);
    a.backend.release();
    expect((await stopping).state).toBe("stopped");
    expect(a.backend.stops).toBe(1);
  });

  it("retries a stop that failed (its claim released) and one whose replica died", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    const failed = (await a.service.create("owner", {})).record;
    a.backend.failNext = true;
    const left = await a.service.stop(failed.id);
    expect(left.state).toBe("stopping");
    expect(left.starter).toBeNull();

    const orphaned = (await a.service.create("owner", {})).record;
    a.backend.hold();
    void a.service.stop(orphaned.id);
    await stoppingNow(orphaned.id);
    await store?.releaseDuty(livenessDuty(a.starter), "a");

    await reaperOf(b).reapOnce();
    expect(b.backend.stops).toBe(2);
    expect((await store?.getSandbox(failed.id))?.state).toBe("stopped");
    expect((await store?.getSandbox(orphaned.id))?.state).toBe("stopped");
  });

  it("retries a live replica's claim that made no progress for STOP_CLAIM_STALE_MS", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    const { record } = await a.service.create("owner", {});
    a.backend.hold();
    void a.service.stop(record.id);
    await stoppingNow(record.id);
    let now = Date.now();
    const reaper = reaperOf(b, () => now);
    await reaper.reapOnce();
    now += STOP_CLAIM_STALE_MS - 1;
    await reaper.reapOnce();
    expect(b.backend.stops).toBe(0);
    now += 1;
    await reaper.reapOnce();
    expect(b.backend.stops).toBe(1);
    expect((await store?.getSandbox(record.id))?.state).toBe("stopped");
  });
});
