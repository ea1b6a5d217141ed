/**
 * Stale starts: a sandbox `queued` or `starting` in a replica that died (SIGKILL, a lost machine) stays so
 * for good, holds a warm pool's refill back (its `starting` counts as on the way) and may have left a
 * container or instance behind. Start-up reconciliation only covers a service coming back alone; with
 * replicas, another one must notice. How:
 * - every replica has a per-life id (`starter`), recorded on the sandboxes it queues and starts, and keeps a
 *   liveness lease under that id (liveness.ts);
 * - the `starts` duty (one replica at a time) settles every `queued`/`starting` record whose starter's
 *   lease has expired: through the same code as start-up reconciliation (finished when the resource answers,
 *   else stopped and `failed` with `StarterLost`), then removes orphans by label, so the pool refills.
 * A live replica's start is never swept however slow it is (its lease is renewed meanwhile); a dead one's is
 * swept once its lease expires (`DUTY_TTL_MS`, 6 s) plus a duty round, within the 10 s the service promises.
 * Records without a starter (made outside a replica) are left to start-up reconciliation.
 */
import type { Logger } from "pino";
import type { SandboxRecord, Store } from "../store/types.js";
import type { BackendAdapter } from "./backends/index.js";
import { starterAliveMemo } from "./liveness.js";
import { probeRecord, removeOrphans, settleInterruptedStart } from "./reconcile.js";
import type { SandboxService } from "./sandboxes.js";

export const STALE_STARTS_DUTY = "starts";
/**
 * A dead replica's start may still be creating its container in the engine when it is swept (the request
 * was sent before the death): orphans are looked for once more this long after a sweep.
 */
const ORPHAN_RECHECK_MS = 15_000;
/** Records examined per round; the rest wait for the next round. */
const SWEEP_PAGE = 500;

export interface StaleStartSweepOptions {
  store: Store;
  service: SandboxService;
  backends: ReadonlyMap<string, BackendAdapter>;
  /** This replica's per-life id (its own starts are never stale to itself). */
  self: string;
  logger: Logger;
  now?: () => number;
}

export interface SweepReport {
  /** Settled as `failed` (their resource stopped). */
  failed: string[];
  /** Their resource answered: now `running`. */
  finished: string[];
  orphansRemoved: string[];
}

export class StaleStartSweeper {
  private readonly log: Logger;
  private readonly now: () => number;
  private orphanRecheckAt: number | undefined;

  constructor(private readonly opts: StaleStartSweepOptions) {
    this.log = opts.logger.child({ component: "stale-starts" });
    this.now = opts.now ?? Date.now;
  }

  /** One round (the duty holder calls this). */
  async sweep(): Promise<SweepReport> {
    const { store, service, backends } = this.opts;
    const report: SweepReport = { failed: [], finished: [], orphansRemoved: [] };
    const page = await store.listSandboxes({ states: ["queued", "starting"], limit: SWEEP_PAGE });
    const isAlive = starterAliveMemo(store, this.now());
    const stale: SandboxRecord[] = [];
    for (const rec of page.items) {
      if (rec.starter === null || rec.starter === this.opts.self) continue;
      if (!(await isAlive(rec.starter))) stale.push(rec);
    }
    await Promise.all(
      stale.map(async (rec) => {
        const backend = backends.get(rec.backend);
        if (!backend) return; // start-up reconciliation of a replica that runs it settles it
        const outcome = await settleInterruptedStart(
          rec,
          { store, service, backend, now: this.now, log: this.log },
          await probeRecord(backend, rec),
          {
            class: "StarterLost",
            message: `the service replica that was starting this sandbox stopped (${rec.starter})`,
          },
        );
        if (outcome === "skipped") return;
        report[outcome].push(rec.id);
        this.log.warn(
          { sandbox: rec.id, pool: rec.pool, starter: rec.starter, outcome },
          "settled a start abandoned by a dead replica",
        );
      }),
    );
    const recheck = this.orphanRecheckAt !== undefined && this.now() >= this.orphanRecheckAt;
    if (report.failed.length > 0 || recheck) {
      report.orphansRemoved = await removeOrphans(store, backends, this.log);
      this.orphanRecheckAt = report.failed.length > 0 ? this.now() + ORPHAN_RECHECK_MS : undefined;
    }
    return report;
  }
}
