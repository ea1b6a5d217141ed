/**
 * Health of the Docker hosts of a fleet: each round pings every engine with a deadline (in parallel, so one
 * dead host does not slow the others) and keeps, per host, whether it is up and since when it is down.
 * - an unreachable host is `up: false` at once: placement gives it no new sandboxes;
 * - `lostHosts()` names hosts down for longer than the grace period: their sandboxes are to become `lost`
 *   (level-triggered, so whichever replica holds the duty at that moment acts, and acting twice is harmless);
 * - `onUp` fires when a host that was down answers again: its containers are to be reconciled (a failed
 *   `onUp` is called again on the next round, and `check()` rejects with its error meanwhile).
 * Every replica runs its own checker (placement needs it everywhere); only the duty holder acts on
 * `lostHosts()` and `onUp`. Hosts start up (optimistic) until a round says otherwise.
 */

export interface HostStatus {
  up: boolean;
  /** Epoch ms of the first failed ping of the current outage; null while up. */
  downSince: number | null;
  lastError: string | null;
  /** Epoch ms of the last round that reached a verdict. */
  checkedAt: number | null;
}

export interface FleetHealthOptions {
  hosts: readonly string[];
  /** Resolves when the engine answers; must honour the timeout. */
  ping: (host: string, timeoutMs: number) => Promise<void>;
  /** Bound on one ping: a loaded engine answers `_ping` in milliseconds; seconds means gone or wedged. */
  pingTimeoutMs?: number;
  /** How long a host may stay unreachable before its sandboxes count as lost. */
  lostAfterMs?: number;
  onDown?: (host: string, error: string) => void;
  onUp?: (host: string, downForMs: number) => void | Promise<void>;
  now?: () => number;
}

export const DEFAULT_PING_TIMEOUT_MS = 3000;
/** Long enough to ride out an engine restart (~1-3 s here) or a short network blip. */
export const DEFAULT_LOST_AFTER_MS = 30_000;

export class FleetHealth {
  private readonly status = new Map<string, HostStatus>();
  private readonly now: () => number;
  private round: Promise<void> | undefined;
  /** Hosts back up whose `onUp` has not completed yet, with how long they were down. */
  private readonly upPending = new Map<string, number>();

  constructor(private readonly opts: FleetHealthOptions) {
    this.now = opts.now ?? Date.now;
    for (const h of opts.hosts)
      this.status.set(h, { up: true, downSince: null, lastError: null, checkedAt: null });
  }

  isUp(host: string): boolean {
    return this.status.get(host)?.up ?? false;
  }

  get(host: string): HostStatus | undefined {
    const s = this.status.get(host);
    return s ? { ...s } : undefined;
  }

  all(): Record<string, HostStatus> {
    return Object.fromEntries([...this.status].map(([k, v]) => [k, { ...v }]));
  }

  /** Hosts down for at least the grace period. */
  lostHosts(): string[] {
    const grace = this.opts.lostAfterMs ?? DEFAULT_LOST_AFTER_MS;
    const t = this.now();
    return [...this.status]
      .filter(([, s]) => !s.up && s.downSince !== null && t - s.downSince >= grace)
      .map(([h]) => h);
  }

  /** One round over every host; concurrent callers share the round in progress. */
  check(): Promise<void> {
    this.round ??= this.runRound().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async runRound(): Promise<void> {
    const timeout = this.opts.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    await Promise.all(
      [...this.status.keys()].map(async (host) => {
        let error: string | null = null;
        try {
          // The ping's own timeout is trusted, but a client that ignores it must not stall the round.
          await withDeadline(
            this.opts.ping(host, timeout),
            timeout + 500,
            `host ${host} did not answer within ${timeout} ms`,
          );
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        await this.record(host, error);
      }),
    );
  }

  private async record(host: string, error: string | null): Promise<void> {
    const s = this.status.get(host);
    if (!s) return;
    const t = this.now();
    s.checkedAt = t;
    if (error !== null) {
      s.lastError = error;
      if (s.up) {
        s.up = false;
        s.downSince = t;
        this.opts.onDown?.(host, error);
      }
      return;
    }
    if (!s.up) {
      this.upPending.set(host, s.downSince === null ? 0 : t - s.downSince);
      s.up = true;
      s.downSince = null;
      s.lastError = null;
    }
    const downFor = this.upPending.get(host);
    if (downFor === undefined || !this.opts.onUp) return;
    // A failed onUp (say, the engine blinked again mid-reconcile) is retried on the next round.
    await this.opts.onUp(host, downFor);
    this.upPending.delete(host);
  }
}

/** `p`, or a rejection with `message` after `ms` (the timer never outlives the race). */
export function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
