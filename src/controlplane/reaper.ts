/**
 * The lease reaper: every `intervalMs` it stops sandboxes whose lease expired and retries stops that could
 * not reach their backend (records left `stopping`). With the default 1 s interval an expired sandbox is
 * being stopped within about a second of its expiry (the issue asks for 5 s). One replica at a time runs
 * it (a store duty lease).
 */
import type { Logger } from "pino";
import type { Store } from "../store/types.js";
import { DUTY_TTL_MS as DUTY_TTL_MS_SHARED } from "./fleet-duties.js";
import type { SandboxEvents, SandboxService } from "./sandboxes.js";

export const REAP_INTERVAL_MS = 1000;
/**
 * The duty lease outlives a few missed rounds, so a busy replica keeps it, and is short enough that another
 * replica takes over within 10 s of the holder's death (fleet-duties.ts uses the same lease length).
 */
const DUTY_TTL_MS = DUTY_TTL_MS_SHARED;
export const REAPER_DUTY = "reaper";
const DUTY = REAPER_DUTY;

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
    const jobs = [
      ...expired.items.map((r) => ({ id: r.id, action: "expired" as const })),
      ...stuck.items.map((r) => ({ id: r.id, action: "retried_stop" as const })),
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
}
