/**
 * Reconciliation at start-up: the store and the backends agree again after a restart (SIGTERM or SIGKILL).
 * - running/paused sandboxes whose runtime answers are adopted (the pass-through reaches them again);
 *   those whose backend resource vanished become `lost` (with an error saying so);
 * - sandboxes caught mid-start: finished when the resource is there and answers, else cleaned up -> `failed`
 *   (unless their starter, another replica, is alive: liveness.ts);
 * - `stopping` ones are stopped (unless another replica that is alive is stopping them);
 * - resources labelled with this service's id that no live record claims are removed (orphans).
 * No record is deleted; every change goes through the state machine.
 */
import type { Logger } from "pino";
import type { SandboxError, SandboxRecord, Store } from "../store/types.js";
import type { BackendAdapter, ProbeResult } from "./backends/index.js";
import { errorInfo } from "./errors.js";
import { starterAlive } from "./liveness.js";
import type { SandboxService } from "./sandboxes.js";
import { isTerminal, transition } from "./states.js";

export interface ReconcileReport {
  adopted: string[];
  lost: string[];
  finished: string[];
  failed: string[];
  stopped: string[];
  orphansRemoved: string[];
}

export interface ReconcileOptions {
  store: Store;
  service: SandboxService;
  backends: ReadonlyMap<string, BackendAdapter>;
  logger: Logger;
  now?: () => number;
}

export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { store, service, backends } = opts;
  const log = opts.logger.child({ component: "reconcile" });
  const now = opts.now ?? Date.now;
  const report: ReconcileReport = {
    adopted: [],
    lost: [],
    finished: [],
    failed: [],
    stopped: [],
    orphansRemoved: [],
  };

  const records: SandboxRecord[] = [];
  for await (const rec of service.active()) records.push(rec);
  await Promise.all(
    records.map(async (rec) => {
      const backend = backends.get(rec.backend);
      if (!backend) {
        await store.updateSandbox(rec.id, {
          state:
            rec.state === "starting" || rec.state === "queued" ? "failed" : transition(rec.state, "lost"),
          error: {
            class: "BackendUnavailable",
            message: `this service does not run ${rec.backend} sandboxes`,
          },
        });
        report.lost.push(rec.id);
        return;
      }
      if (rec.state === "stopping") {
        // Another replica's stop in flight: that replica finishes it (or its reaper retries it).
        if (await service.stopRunElsewhere(rec)) return;
        const stopped = await service.stop(rec.id);
        if (stopped.state === "stopped") report.stopped.push(rec.id);
        return;
      }
      const probe = await probeRecord(backend, rec);
      if (rec.state === "queued" || rec.state === "starting") {
        // Another replica's start in flight (replicas starting together race the duty-lease check in
        // service.ts): it is that replica's to finish.
        if (rec.starter !== null && (await starterAlive(store, rec.starter))) return;
        const outcome = await settleInterruptedStart(rec, { store, service, backend, now, log }, probe, {
          class: "ServiceRestarted",
          message: "the service restarted while this sandbox was starting",
        });
        if (outcome !== "skipped") report[outcome].push(rec.id);
        return;
      }
      // running or paused
      if (probe === "alive" || (rec.state === "paused" && probe !== "gone")) {
        if (rec.state === "running") service.adopt(rec);
        report.adopted.push(rec.id);
        return;
      }
      if (rec.handle !== null) {
        await backend
          .stop(rec.handle)
          .catch((err: unknown) =>
            log.warn({ sandbox: rec.id, error: errorInfo(err) }, "could not clean up a lost sandbox"),
          );
      }
      await store.updateSandbox(rec.id, {
        state: transition(rec.state, "lost"),
        stopped_at: now(),
        error: {
          class: "SandboxLost",
          message:
            probe === "gone"
              ? `the ${rec.backend} sandbox vanished while the service was not watching`
              : `the ${rec.backend} sandbox no longer answers`,
        },
      });
      report.lost.push(rec.id);
    }),
  );

  report.orphansRemoved.push(...(await removeOrphans(store, backends, log)));
  log.info(
    Object.fromEntries(Object.entries(report).map(([k, v]) => [k, v.length])),
    "reconciled the store with the backends",
  );
  return report;
}

/** What the record's backend resource says: `gone` without a handle, `unreachable` when the probe fails. */
export async function probeRecord(backend: BackendAdapter, rec: SandboxRecord): Promise<ProbeResult> {
  if (rec.handle === null) return "gone";
  return backend.probe(rec.handle).catch(() => "unreachable" as const);
}

/**
 * A sandbox caught mid-start by a start that will never finish (this service restarted, or the replica
 * running it died): finished (`running`, adopted) when its resource is there and answers, else its resource
 * stopped and the record `failed` with `error`. Compare-and-set on the record's version: `skipped` when it
 * changed meanwhile (someone else settled or deleted it). A resource made but not yet in the handle is
 * left to `removeOrphans`.
 */
export async function settleInterruptedStart(
  rec: SandboxRecord,
  ctx: {
    store: Store;
    service: SandboxService;
    backend: BackendAdapter;
    now: () => number;
    log: Logger;
  },
  probe: ProbeResult,
  error: SandboxError,
): Promise<"finished" | "failed" | "skipped"> {
  const { store, service, backend } = ctx;
  if (probe === "alive" && rec.handle !== null) {
    const updated = await store.updateSandbox(
      rec.id,
      { state: transition(rec.state, "running"), started_at: ctx.now() },
      rec.version,
    );
    if (!updated) return "skipped";
    service.adopt(updated);
    return "finished";
  }
  if (rec.handle !== null) {
    await backend
      .stop(rec.handle)
      .catch((err: unknown) =>
        ctx.log.warn({ sandbox: rec.id, error: errorInfo(err) }, "could not clean up an interrupted start"),
      );
  }
  const failed = await store.updateSandbox(
    rec.id,
    { state: transition(rec.state, "failed"), error },
    rec.version,
  );
  return failed ? "failed" : "skipped";
}

/**
 * Removes resources labelled with this service's id that no live record claims: no record at all, or a
 * terminal record whose resource still holds compute. Returns the removed resources' refs.
 */
export async function removeOrphans(
  store: Store,
  backends: ReadonlyMap<string, BackendAdapter>,
  log: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  for (const backend of backends.values()) {
    let resources: Awaited<ReturnType<BackendAdapter["listResources"]>>;
    try {
      resources = await backend.listResources();
    } catch (err) {
      log.warn({ backend: backend.type, error: errorInfo(err) }, "cannot list backend resources");
      continue;
    }
    for (const res of resources) {
      const rec = res.sandboxId ? await store.getSandbox(res.sandboxId) : undefined;
      const orphan = !rec || (isTerminal(rec.state) && res.active);
      if (!orphan) continue;
      try {
        await backend.removeResource(res.ref);
        removed.push(res.ref);
        log.info(
          { backend: backend.type, resource: res.description, sandbox: res.sandboxId },
          "removed orphan",
        );
      } catch (err) {
        log.warn({ resource: res.description, error: errorInfo(err) }, "could not remove orphan");
      }
    }
  }
  return removed;
}
