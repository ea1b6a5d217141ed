/**
 * The lease reaper: every `intervalMs` it stops sandboxes whose lease expired and retries stops that could
 * not reach their backend (records left `stopping`). With the default 1 s interval an expired sandbox is
 * being stopped within about a second of its expiry (the issue asks for 5 s). One replica at a time runs
 * it (a store duty lease). A stop another live replica is running right now (it claimed the record) is not
 * retried: sending it twice spends the backend's API budget (AGS limits each action per account) for
 * nothing. A claim that stays unchanged for `STOP_CLAIM_STALE_MS` is retried anyway.
 */
import type { Logger } from "pino";
import type { SandboxRecord, Store } from "../store/types.js";
import { DUTY_TTL_MS as DUTY_TTL_MS_SHARED } from "./fleet-duties.js";
import { starterAliveMemo } from "./liveness.js";
import type { SandboxEvents, SandboxService } from "./sandboxes.js";

export const REAP_INTERVAL_MS = 1000;
/**
 * The duty lease outlives a few missed rounds, so a busy replica keeps it, and is short enough that another
 * replica takes over within 10 s of the holder's death (fleet-duties.ts uses the same lease length).
 */
const DUTY_TTL_MS = DUTY_TTL_MS_SHARED;
export const REAPER_DUTY = "reaper";
const DUTY = REAPER_DUTY;
/**
 * A live replica's stop settles within about a minute (the AGS stop's 60 s deadline, including its wait
 * for the shared rate budget, plus a 5 s runtime close): then the record is `stopped`, or its claim is
 * released for a retry; either changes its version. A claim left unchanged for twice that is one whose
 * release was lost (the store failed just then): it is retried as if nobody held it.
 */
export const STOP_CLAIM_STALE_MS = 120_000;

export interface ReaperOptions {
  store: Store;
  service: SandboxService;
  /** This process's holder name for the duty lease. */
  holder: string;
  logger: Logger;
  events?: SandboxEvents;
  intervalMs?: number;
  now?: () => number;
}

export class Reaper {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private readonly log: Logger;
  /** `stopping` records another replica runs: the version seen and since when (for the stale check). */
  private readonly claimed = new Map<string, { version: number; since: number }>();

  constructor(private readonly opts: ReaperOptions) {
    this.log = opts.logger.child({ component: "reaper" });
  }

  start(): void {
    const tick = () => {
      this.round = this.reapOnce()
        .catch((err: unknown) => this.log.error({ err }, "reaper round failed"))
        .finally(() => {
          this.round = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.opts.intervalMs ?? REAP_INTERVAL_MS);
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? REAP_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
    await this.opts.store.releaseDuty(DUTY, this.opts.holder).catch(() => undefined);
  }

  /** One round: expired leases, then stuck stops. */
  async reapOnce(): Promise<void> {
    const { store, service, events } = this.opts;
    if (!(await store.acquireDuty(DUTY, this.opts.holder, DUTY_TTL_MS))) return;
    const now = (this.opts.now ?? Date.now)();
    const expired = await store.listSandboxes({
      states: ["queued", "starting", "running", "paused"],
      expiresBefore: now,
      limit: 500,
    });
    const stuck = await store.listSandboxes({ states: ["stopping"], limit: 500 });
    const retry = await this.unattended(stuck.items, now);
    const jobs = [
      ...expired.items.map((r) => ({ id: r.id, action: "expired" as const })),
      ...retry.map((r) => ({ id: r.id, action: "retried_stop" as const })),
    ];
    await Promise.all(
      jobs.map(async ({ id, action }) => {
        const rec = await service.stop(id);
        if (rec.state === "stopping") {
          events?.reaped?.("stop_failed");
          return;
        }
        events?.reaped?.(action);
        this.log.info(
          { sandbox: id, action },
          action === "expired" ? "lease expired: stopped" : "stop retried",
        );
      }),
    );
  }

  /** The `stopping` records nobody is stopping: unclaimed, claimed by a dead replica, or claimed stale. */
  private async unattended(stuck: SandboxRecord[], now: number): Promise<SandboxRecord[]> {
    const seen = new Set<string>();
    const retry: SandboxRecord[] = [];
    // Leases are judged on the store's clock (as duties are), not on the reaper's `now`.
    const isAlive = starterAliveMemo(this.opts.store);
    for (const rec of stuck) {
      if (!(await this.opts.service.stopRunElsewhere(rec, isAlive))) {
        retry.push(rec);
        continue;
      }
      seen.add(rec.id);
      const claim = this.claimed.get(rec.id);
      if (!claim || claim.version !== rec.version) {
        this.claimed.set(rec.id, { version: rec.version, since: now });
      } else if (now - claim.since >= STOP_CLAIM_STALE_MS) {
        this.log.warn(
          { sandbox: rec.id, starter: rec.starter },
          "a claimed stop made no progress: retrying it",
        );
        retry.push(rec);
      }
    }
    for (const id of this.claimed.keys()) if (!seen.has(id)) this.claimed.delete(id);
    return retry;
  }
}
