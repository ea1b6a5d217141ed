/**
 * What the fleet duty does about hosts (one replica at a time):
 * - a host down for longer than the grace period: its sandboxes become `lost` (their containers are out
 *   of reach; the pass-through stops routing to them);
 * - a host that is up (checked when it comes back, and every so often): its containers and the records
 *   placed on it agree again. A container whose record is gone, or whose sandbox already ended (lost,
 *   stopped, failed), is removed (a kept container of a stopped sandbox stays: the user asked for it);
 *   a running or paused sandbox whose container is gone or no longer runs (the engine restarted) is
 *   `lost`. Sandboxes still starting are the start's business and are left alone.
 */
import type { Logger } from "pino";
import type { SandboxRecord, Store } from "../store/types.js";
import type { BackendResource } from "./backends/types.js";
import { errorInfo } from "./errors.js";
import type { FleetDockerBackend } from "./fleet-backend.js";
import type { SandboxService } from "./sandboxes.js";
import { isTerminal, transition } from "./states.js";

export interface FleetReconcileOptions {
  store: Store;
  service: SandboxService;
  fleet: FleetDockerBackend;
  logger: Logger;
  now?: () => number;
}

export interface HostReconcileReport {
  lost: string[];
  removed: string[];
}

async function recordsOn(store: Store, host: string): Promise<SandboxRecord[]> {
  const out: SandboxRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listSandboxes({
      host,
      states: ["starting", "running", "paused", "stopping"],
      limit: 500,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

export class FleetReconciler {
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: FleetReconcileOptions) {
    this.log = opts.logger.child({ component: "fleet" });
    this.now = opts.now ?? Date.now;
  }

  private async markLost(rec: SandboxRecord, message: string): Promise<boolean> {
    const updated = await this.opts.store.updateSandbox(
      rec.id,
      { state: transition(rec.state, "lost"), stopped_at: this.now(), error: { class: "HostLost", message } },
      rec.version,
    );
    this.opts.service.forget(rec.id);
    return updated !== undefined;
  }

  /** The sandboxes of a host that stayed unreachable past the grace period become `lost`. */
  async loseHost(host: string, downForMs: number): Promise<string[]> {
    const lost: string[] = [];
    for (const rec of await recordsOn(this.opts.store, host)) {
      const message = `docker host ${host} has not answered for ${Math.round(downForMs / 1000)} s`;
      if (await this.markLost(rec, message)) lost.push(rec.id);
    }
    if (lost.length > 0)
      this.log.warn({ host, lost: lost.length }, "host unreachable past its grace period: sandboxes lost");
    return lost;
  }

  /** Containers and records of one reachable host agree again. Throws when the host does not answer. */
  async reconcileHost(host: string): Promise<HostReconcileReport> {
    const { store, fleet } = this.opts;
    const report: HostReconcileReport = { lost: [], removed: [] };
    const resources = await fleet.listHost(host);
    const bySandbox = new Map<string, BackendResource>();
    for (const r of resources) {
      const rec = r.sandboxId ? await store.getSandbox(r.sandboxId) : undefined;
      const ended = !rec || isTerminal(rec.state);
      const kept = rec?.state === "stopped" && !r.active;
      if (ended && !kept) {
        try {
          await fleet.removeResource(r.ref);
          report.removed.push(r.ref);
        } catch (err) {
          this.log.warn(
            { host, resource: r.description, error: errorInfo(err) },
            "could not remove an orphan container",
          );
        }
        continue;
      }
      if (r.sandboxId) bySandbox.set(r.sandboxId, r);
    }
    for (const rec of await recordsOn(store, host)) {
      if (rec.state !== "running" && rec.state !== "paused") continue;
      const res = bySandbox.get(rec.id);
      if (res?.active) continue;
      const why = res ? "its container stopped (the engine restarted?)" : "its container is gone";
      if (await this.markLost(rec, `docker host ${host}: ${why}`)) report.lost.push(rec.id);
      if (res) {
        await fleet.removeResource(res.ref).catch(() => undefined);
        report.removed.push(res.ref);
      }
    }
    if (report.lost.length + report.removed.length > 0)
      this.log.info({ host, lost: report.lost.length, removed: report.removed.length }, "reconciled host");
    return report;
  }
}
