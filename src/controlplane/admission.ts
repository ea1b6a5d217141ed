/**
 * Admission: creates that find no room wait in one FIFO queue instead of failing. Guarantees:
 * - strict FIFO: a waiter is granted only when every waiter ahead of it was granted or left (a batch at the
 *   head is not overtaken by singles behind it, so a group is never starved);
 * - a grant is all-or-nothing: `count` slots at once (a batch) or none, before the waiter's deadline;
 * - every waiter leaves by its deadline (`QueueTimeoutError`) or its abort signal, and then holds nothing;
 * - a full queue refuses at once (`QueueFullError`, the caller answers 429), as does a zero timeout when
 *   there is no room;
 * - slots granted but not yet visible in `room()` (the caller has not written its records yet) are held
 *   here, so two grants never share a slot. The caller releases a reservation once its records are written
 *   (they count in `room()` from then on) or when it gives up.
 * `room()` is asked again whenever `notify()` says capacity may have changed and, while anyone waits, every
 * `pollMs` (another replica may have freed room without telling this one).
 */

export class QueueFullError extends Error {
  readonly retryAfterSec: number;
  constructor(message: string, retryAfterSec: number) {
    super(message);
    this.name = "QueueFullError";
    this.retryAfterSec = retryAfterSec;
  }
}

export class QueueTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueueTimeoutError";
  }
}

/** Slots granted to one waiter; `release` gives back what was not turned into records (idempotent). */
export interface Reservation {
  readonly count: number;
  /** Waited this long in the queue (0 when granted at once). */
  readonly waitedMs: number;
  release(slots?: number): void;
}

export interface AcquireOptions {
  /** How long to wait for room; 0 fails at once when there is none. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the 1-based queue position whenever it changes (not called when granted at once). */
  onPosition?: (position: number) => void;
}

export interface AdmissionQueueOptions {
  /** Waiters at most. */
  maxQueue: number;
  /** Free slots now (the store's view); reservations held here are subtracted by the queue. */
  room: () => number | Promise<number>;
  /** Re-check `room()` this often while someone waits. */
  pollMs?: number;
  /** Retry-After for a full queue. */
  retryAfterSec?: number;
  now?: () => number;
}

/** Another replica's stop is seen at the latest after this; a store count is cheap. */
const DEFAULT_POLL_MS = 500;
const DEFAULT_RETRY_AFTER_SEC = 5;

interface Waiter {
  count: number;
  enqueuedAt: number;
  position: number;
  onPosition?: (position: number) => void;
  grant: (r: Reservation) => void;
  fail: (err: Error) => void;
  cleanup: () => void;
}

export class AdmissionQueue {
  private readonly waiters: Waiter[] = [];
  private held = 0;
  private chain: Promise<void> = Promise.resolve();
  private poller: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: AdmissionQueueOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Waiting requests. */
  get length(): number {
    return this.waiters.length;
  }

  /** Slots granted and not yet released. */
  get reserved(): number {
    return this.held;
  }

  /** Resolves with `count` slots, or rejects with QueueFullError / QueueTimeoutError / the abort reason. */
  acquire(count: number, opts: AcquireOptions): Promise<Reservation> {
    if (!Number.isInteger(count) || count < 1)
      return Promise.reject(new RangeError(`count must be >= 1, got ${count}`));
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    return new Promise<Reservation>((resolve, reject) => {
      this.serial(async () => {
        const free = (await this.opts.room()) - this.held;
        if (this.waiters.length === 0 && count <= free) {
          resolve(this.reserve(count, 0));
          return;
        }
        if (opts.timeoutMs <= 0) {
          reject(
            new QueueFullError(`no room for ${count} sandbox(es) and queue_timeout is 0`, this.retryAfter()),
          );
          return;
        }
        if (this.waiters.length >= this.opts.maxQueue) {
          reject(
            new QueueFullError(
              `the admission queue is full (${this.opts.maxQueue} waiting)`,
              this.retryAfter(),
            ),
          );
          return;
        }
        this.enqueue(count, opts, resolve, reject);
      }).catch(reject);
    });
  }

  /** Capacity may have changed (a sandbox stopped, a host came back): grant whoever fits now. */
  notify(): void {
    this.serial(() => this.pump()).catch(() => {});
  }

  /** Fails every waiter (service shutting down). */
  close(reason = new Error("the service is shutting down")): void {
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.fail(reason);
    }
    this.stopPolling();
  }

  private retryAfter(): number {
    return this.opts.retryAfterSec ?? DEFAULT_RETRY_AFTER_SEC;
  }

  private serial(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private reserve(count: number, waitedMs: number): Reservation {
    this.held += count;
    let left = count;
    return {
      count,
      waitedMs,
      release: (slots = left) => {
        const n = Math.min(slots, left);
        if (n <= 0) return;
        left -= n;
        this.held -= n;
        // Slots given back (not turned into records) may let the next waiter in.
        this.notify();
      },
    };
  }

  private enqueue(
    count: number,
    opts: AcquireOptions,
    resolve: (r: Reservation) => void,
    reject: (err: Error) => void,
  ): void {
    const timer = setTimeout(() => {
      this.leave(
        waiter,
        new QueueTimeoutError(
          `no room for ${count} sandbox(es) within queue_timeout (${Math.round(opts.timeoutMs / 1000)} s)`,
        ),
      );
    }, opts.timeoutMs);
    const onAbort = (): void => this.leave(waiter, opts.signal?.reason ?? new Error("aborted"));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const waiter: Waiter = {
      count,
      enqueuedAt: this.now(),
      position: 0,
      onPosition: opts.onPosition,
      grant: resolve,
      fail: reject,
      cleanup: () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
      },
    };
    this.waiters.push(waiter);
    this.reportPositions();
    this.startPolling();
  }

  private leave(w: Waiter, err: Error): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    w.cleanup();
    w.fail(err);
    this.reportPositions();
    if (this.waiters.length === 0) this.stopPolling();
    // The one that left may have blocked the head.
    if (i === 0) this.notify();
  }

  private async pump(): Promise<void> {
    while (this.waiters.length > 0) {
      const head = this.waiters[0] as Waiter;
      const free = (await this.opts.room()) - this.held;
      // The head may have timed out while room() was asked.
      if (this.waiters[0] !== head) continue;
      if (head.count > free) break;
      this.waiters.shift();
      head.cleanup();
      head.grant(this.reserve(head.count, this.now() - head.enqueuedAt));
    }
    this.reportPositions();
    if (this.waiters.length === 0) this.stopPolling();
  }

  private reportPositions(): void {
    this.waiters.forEach((w, i) => {
      if (w.position !== i + 1) {
        w.position = i + 1;
        w.onPosition?.(i + 1);
      }
    });
  }

  private startPolling(): void {
    if (this.poller) return;
    this.poller = setInterval(() => this.notify(), this.opts.pollMs ?? DEFAULT_POLL_MS);
    this.poller.unref();
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }
}
