/**
 * Background duties shared by replicas (pool refill, fleet watch, ...): each duty runs on one replica at a
 * time, the holder of its store lease. Every replica ticks every `intervalMs`; a tick first takes or renews
 * the lease (`store.acquireDuty`) and runs the duty only when it holds it. The lease lives `ttlMs`, so when
 * the holder dies another replica takes over within `ttlMs + intervalMs` (6 s + 1 s by default, inside the
 * 10 s the service promises). A round never overlaps the previous one of the same duty; `kick` runs one
 * soon (a hand-out wants its refill now, not in a second); `stop` waits for rounds in flight and releases
 * the leases so a successor need not wait for them to expire. A round renews its lease while it runs, so a
 * round longer than the lease (a refill starting containers on a loaded machine) is not joined by a second
 * replica's; past `maxRenewMs` it stops renewing, so a stuck round cannot keep the duty from the others.
 */
import type { Logger } from "pino";
import type { Store } from "../store/types.js";

export const DUTY_INTERVAL_MS = 1000;
/** Several missed ticks of a busy (but live) holder must not hand its duties away. */
export const DUTY_TTL_MS = 6000;
/** A round is renewed this long at most; a longer one is presumed stuck and its lease left to expire. */
export const DUTY_MAX_RENEW_MS = 120_000;

interface Duty {
  name: string;
  run: () => Promise<void>;
  timer: NodeJS.Timeout | undefined;
  round: Promise<void> | undefined;
  again: boolean;
}

export interface DutyRunnerOptions {
  store: Store;
  /** This replica's name in the leases (service id and pid). */
  holder: string;
  logger: Logger;
  intervalMs?: number;
  ttlMs?: number;
  maxRenewMs?: number;
}

export class DutyRunner {
  private readonly duties = new Map<string, Duty>();
  private running = false;
  private readonly log: Logger;

  constructor(private readonly opts: DutyRunnerOptions) {
    this.log = opts.logger.child({ component: "duties" });
  }

  add(name: string, run: () => Promise<void>): void {
    this.duties.set(name, { name, run, timer: undefined, round: undefined, again: false });
  }

  start(): void {
    this.running = true;
    for (const d of this.duties.values()) this.schedule(d, 0);
  }

  /** Runs the duty soon (if this replica holds it). */
  kick(name: string): void {
    const d = this.duties.get(name);
    if (!d || !this.running) return;
    if (d.round) {
      d.again = true;
      return;
    }
    this.schedule(d, 0);
  }

  /** Whether this replica held the duty at its last tick. */
  async holds(name: string): Promise<boolean> {
    const lease = await this.opts.store.getDuty(name);
    return lease?.holder === this.opts.holder && lease.expires_at > Date.now();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const d of this.duties.values()) clearTimeout(d.timer);
    await Promise.allSettled([...this.duties.values()].map((d) => d.round));
    await Promise.allSettled(
      [...this.duties.keys()].map((n) => this.opts.store.releaseDuty(n, this.opts.holder)),
    );
  }

  private schedule(d: Duty, delayMs: number): void {
    clearTimeout(d.timer);
    d.timer = setTimeout(() => this.tick(d), delayMs);
    d.timer.unref?.();
  }

  private tick(d: Duty): void {
    if (!this.running || d.round) return;
    d.round = (async () => {
      const ttl = this.opts.ttlMs ?? DUTY_TTL_MS;
      const held = await this.opts.store.acquireDuty(d.name, this.opts.holder, ttl);
      if (!held) return;
      const until = Date.now() + (this.opts.maxRenewMs ?? DUTY_MAX_RENEW_MS);
      const renew = setInterval(() => {
        if (Date.now() > until) {
          clearInterval(renew);
          this.log.warn({ duty: d.name }, "duty round overran; its lease is left to expire");
          return;
        }
        this.opts.store.acquireDuty(d.name, this.opts.holder, ttl).catch(() => undefined);
      }, this.opts.intervalMs ?? DUTY_INTERVAL_MS);
      renew.unref?.();
      try {
        await d.run();
      } finally {
        clearInterval(renew);
      }
    })()
      .catch((err: unknown) => this.log.warn({ duty: d.name, err }, "duty round failed"))
      .finally(() => {
        d.round = undefined;
        const again = d.again;
        d.again = false;
        if (this.running) this.schedule(d, again ? 0 : (this.opts.intervalMs ?? DUTY_INTERVAL_MS));
      });
  }
}
