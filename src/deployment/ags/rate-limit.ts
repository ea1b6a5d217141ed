/**
 * A token bucket per AGS action. AGS limits each action per account (20 requests/s by default, spec/ags.md
 * 1.1); pacing requests on our side keeps a burst of deployments from turning into a storm of
 * `RequestLimitExceeded` retries. Implemented as GCRA: each caller reserves the next free slot, so waiters are
 * served in arrival order and the state is two numbers.
 */
import { sleep } from "../../runtime/index.js";

export class TokenBucket {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  /** Theoretical arrival time of the next request, in ms (Date.now scale). */
  private tat = 0;

  /**
   * @param ratePerSecond sustained requests per second (> 0)
   * @param burst requests allowed back to back after an idle period (>= 1). Default 1: evenly spaced
   *   requests, because a server that counts a sliding one-second window rejects any burst followed by
   *   sustained traffic at the full rate.
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst = 1,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be > 0, got ${ratePerSecond}`);
    this.intervalMs = 1000 / ratePerSecond;
    this.burstMs = (Math.max(1, burst) - 1) * this.intervalMs;
  }

  /** Milliseconds the caller has to wait for its slot; reserves the slot. */
  reserve(): number {
    const now = this.now();
    const start = Math.max(now, this.tat);
    this.tat = start + this.intervalMs;
    return Math.max(0, start - this.burstMs - now);
  }

  /** Waits for a slot. An abort gives the slot up only in the sense that the caller stops waiting. */
  async take(signal?: AbortSignal): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await sleep(wait, signal);
    else signal?.throwIfAborted();
  }
}

/** One bucket per action, created on first use. */
export class ActionRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly defaultRate: number,
    private readonly perAction: Readonly<Record<string, number>> = {},
  ) {}

  /** The sustained rate of `action`, requests per second. */
  rateFor(action: string): number {
    return this.perAction[action] ?? this.defaultRate;
  }

  bucket(action: string): TokenBucket {
    let b = this.buckets.get(action);
    if (!b) {
      b = new TokenBucket(this.rateFor(action));
      this.buckets.set(action, b);
    }
    return b;
  }

  take(action: string, signal?: AbortSignal): Promise<void> {
    return this.bucket(action).take(signal);
  }
}

/** One request's slot, asked of a pacing hook that replaces the per-process buckets. */
export interface PaceRequest {
  /**
   * Names the account's limit for this action: `ags/<SecretId fingerprint>/<region>/<action>`. A
   * fingerprint, never the SecretId itself, because bucket names are stored (and the SecretKey never is).
   */
  bucket: string;
  action: string;
  ratePerSecond: number;
  signal?: AbortSignal;
}

/**
 * Waits for a request's slot. The control plane on PostgreSQL passes one backed by the store's shared
 * token bucket, so every replica draws from one budget per account and action.
 */
export type AgsPacer = (req: PaceRequest) => Promise<void>;
