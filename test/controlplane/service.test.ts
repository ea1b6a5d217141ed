/**
 * The sandbox service in-process, on a real SQLite store: the state machine's allowed moves, and the
 * guarantees that an HTTP test cannot force an interleaving for (a slow store makes concurrent creates
 * overlap: the admission lock must keep them under the limit; idempotent creates must start once).
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BackendAdapter,
  canTransition,
  DummyBackend,
  InvalidTransitionError,
  SandboxService,
  transition,
} from "../../src/controlplane/index.js";
import { createStore } from "../../src/store/index.js";
import { SANDBOX_STATES, type Store } from "../../src/store/types.js";

describe("sandbox state machine", () => {
  it("allows exactly the documented moves", () => {
    const allowed = SANDBOX_STATES.flatMap((from) =>
      SANDBOX_STATES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        "queued->starting",
        "queued->stopping",
        "queued->failed",
        "starting->running",
        "starting->stopping",
        "starting->failed",
        "starting->lost",
        "running->paused",
        "running->stopping",
        "running->lost",
        "paused->running",
        "paused->stopping",
        "paused->lost",
        "stopping->stopped",
        "stopping->lost",
      ].sort(),
    );
    expect(transition("running", "paused")).toBe("paused");
    expect(() => transition("stopped", "running")).toThrow(InvalidTransitionError);
    expect(() => transition("failed", "running")).toThrow("a sandbox cannot go from failed to running");
  });
});

/** The store, with every count slowed down so that concurrent admissions overlap. */
function slowCounts(store: Store, ms: number): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== "countSandboxes" || typeof v !== "function")
        return typeof v === "function" ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const n = await (v as (...a: unknown[]) => Promise<number>).apply(target, args);
        await new Promise((r) => setTimeout(r, ms));
        return n;
      };
    },
  });
}

/** A dummy backend that counts its starts. */
class CountingBackend extends DummyBackend {
  starts = 0;
  override async start(...args: Parameters<BackendAdapter["start"]>) {
    this.starts++;
    await new Promise((r) => setTimeout(r, 50));
    return super.start(...args);
  }
}

describe("SandboxService", () => {
  let store: Store | undefined;
  let backend: CountingBackend | undefined;
  afterEach(async () => {
    await backend?.close();
    await store?.close();
  });

  async function service(limits: { total: number; perKey: number }) {
    store = await createStore("sqlite::memory:");
    await store.migrate();
    backend = new CountingBackend();
    return new SandboxService({
      store: slowCounts(store, 30),
      serviceId: "svc-test",
      backends: new Map([["dummy", backend]]),
      defaults: { tree: {}, defaultType: "dummy" },
      defaultTtlSec: 60,
      maxTtlSec: 600,
      maxSandboxes: limits.total,
      maxSandboxesPerKey: limits.perKey,
      logger: pino({ level: "silent" }),
    });
  }

  it("admits concurrent creates one at a time, so the limit holds", async () => {
    const svc = await service({ total: 3, perKey: 0 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => svc.create("owner-a", {})));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(rejected.map((r) => (r.reason as { code: string }).code)).toEqual(Array(5).fill("limit_exceeded"));
    expect(backend?.starts).toBe(3);
  });

  it("starts once for concurrent creates with one Idempotency-Key, wait or not", async () => {
    const svc = await service({ total: 0, perKey: 0 });
    const results = await Promise.all([
      svc.create("owner-a", { metadata: { a: "1" } }, "key-1"),
      svc.create("owner-a", { metadata: { a: "1" }, wait: false }, "key-1"),
      svc.create("owner-a", { metadata: { a: "1" } }, "key-1"),
    ]);
    expect(new Set(results.map((r) => r.record.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(backend?.starts).toBe(1);
    const waited = results.filter((_r, i) => i !== 1);
    for (const r of waited) expect(r.record.state).toBe("running");
  });

  it("stops a sandbox deleted while it starts, once the start settles", async () => {
    const svc = await service({ total: 0, perKey: 0 });
    const { record } = await svc.create("owner-a", { wait: false });
    expect(record.state).toBe("starting");
    const stopped = await svc.remove("owner-a", record.id);
    expect(stopped.state).toBe("stopped");
    expect((await svc.get("owner-a", record.id)).state).toBe("stopped");
  });
});
