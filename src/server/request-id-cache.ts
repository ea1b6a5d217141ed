/**
 * `X-Request-ID` idempotency: a request id seen before gets the same answer without running again. Unlike
 * upstream's single "last response" slot, a retry that arrives while the original is still running waits for
 * the original's result (SWE-ReX PR #299), and a bounded LRU keeps recent answers, error answers included.
 */

export interface CachedReply {
  statusCode: number;
  /** Serialized JSON body. */
  payload: string;
}

export interface RequestIdCacheOptions {
  /** How many finished replies to remember. */
  maxEntries?: number;
  /** Upper bound on the bytes of remembered payloads; older ones are dropped first. */
  maxBytes?: number;
}

export class RequestIdCache {
  private readonly inFlight = new Map<string, Promise<CachedReply>>();
  /** Map iteration order is insertion order: the first key is the least recently used. */
  private readonly done = new Map<string, CachedReply>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(opts: RequestIdCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 1024;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Runs `produce` once per key; concurrent and later callers with the same key share its reply. */
  run(key: string, produce: () => Promise<CachedReply>): Promise<CachedReply> {
    const hit = this.done.get(key);
    if (hit) {
      this.done.delete(key);
      this.done.set(key, hit);
      return Promise.resolve(hit);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const promise = produce().then((reply) => {
      this.remember(key, reply);
      return reply;
    });
    this.inFlight.set(key, promise);
    // Delete on both outcomes; a rejection is not remembered, so a later retry runs again.
    promise.then(
      () => this.inFlight.delete(key),
      () => this.inFlight.delete(key),
    );
    return promise;
  }

  get size(): number {
    return this.done.size;
  }

  private remember(key: string, reply: CachedReply): void {
    const size = Buffer.byteLength(reply.payload);
    if (size > this.maxBytes) return;
    this.done.set(key, reply);
    this.bytes += size;
    for (const [oldKey, old] of this.done) {
      if (this.done.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.done.delete(oldKey);
      this.bytes -= Buffer.byteLength(old.payload);
    }
  }
}
