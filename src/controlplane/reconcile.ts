/**
 * Reconciliation at start-up: the store and the backends agree again after a restart (SIGTERM or SIGKILL).
 * - running/paused sandboxes whose runtime answers are adopted (the pass-through reaches them again);
 *   those whose backend resource vanished become `lost` (with an error saying so);
 * - sandboxes caught mid-start: finished when the resource is there and answers, else cleaned up -> `failed`;
 * - `stopping` ones are stopped;
 * - resources labelled with this service's id that no live record claims are removed (orphans).
 * No record is deleted; every change goes through the state machine.
 */
import type { Logger } from "pino";
import type { SandboxRecord, Store } from "../store/types.js";
import type { BackendAdapter } from "./backends/index.js";
import { errorInfo } from "./errors.js";
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
        const stopped = await service.stop(rec.id);
        if (stopped.state === "stopped") report.stopped.push(rec.id);
        return;
      }
      const probe =
        rec.handle === null ? "gone" : await backend.probe(rec.handle).catch(() => "unreachable" as const);
      if (rec.state === "queued" || rec.state === "starting") {
        if (probe === "alive" && rec.handle !== null) {
          const updated = await store.updateSandbox(rec.id, {
            state: transition(rec.state, "running"),
            started_at: now(),
          });
          if (updated) service.adopt(updated);
          report.finished.push(rec.id);
          return;
        }
        if (rec.handle !== null) await backend.stop(rec.handle).catch(() => undefined);
        await store.updateSandbox(rec.id, {
          state: transition(rec.state, "failed"),
          error: {
            class: "ServiceRestarted",
            message: "the service restarted while this sandbox was starting",
          },
        });
        report.failed.push(rec.id);
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
        report.orphansRemoved.push(res.ref);
        log.info(
          { backend: backend.type, resource: res.description, sandbox: res.sandboxId },
          "removed orphan",
        );
      } catch (err) {
        log.warn({ resource: res.description, error: errorInfo(err) }, "could not remove orphan");
      }
    }
  }
  log.info(
    Object.fromEntries(Object.entries(report).map(([k, v]) => [k, v.length])),
    "reconciled the store with the backends",
  );
  return report;
}
