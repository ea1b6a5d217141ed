/**
 * Warm pools (`pools:`): each keeps `size` ready sandboxes of its deployment, so a create that names the
 * pool gets one at once. The pool's sandboxes are ordinary records (owner `pool:NAME`, `pool` NAME, no
 * lease), so pools survive restarts and every replica sees the same ones. Guarantees:
 * - hand-out checks the sandbox is alive first (a dead one is stopped and the next one tried), then claims
 *   it with a compare-and-set on the record's version, so two replicas never hand out the same sandbox;
 *   from then on it is an ordinary sandbox of the claiming key (lease, DELETE, reaper);
 * - an empty pool falls back to a cold create of the pool's deployment (the caller still gets one);
 * - refill (a background duty, one replica at a time) starts what is missing up to `size`, never beyond
 *   `max` live sandboxes of the pool, never through the admission queue (refill only uses free room), and
 *   backs off after a failed start; ready sandboxes idle longer than `idle_ttl` are replaced.
 * The alive check is one `is_alive` round trip; every replica keeps a connection open to the next hand-out
 * candidates (`warm`, every WARM_INTERVAL_MS and when a start of its own is ready), so a hand-out does not
 * pay for a TCP connect through the engine's port proxy (measured: ~23 ms of a ~35 ms hand-out on a loaded
 * 2-core machine, ~10 ms over a kept connection).
 */
import type { Logger } from "pino";
import type { ConfigTree } from "../config/index.js";
import type { SandboxRecord, Store } from "../store/types.js";
import { KeptAliveProbe } from "./backends/kept-probe.js";
import { errorInfo, ServiceError } from "./errors.js";
import type { PoolConfig } from "./fleet-config.js";
import type { SandboxService } from "./sandboxes.js";

export const POOL_OWNER_PREFIX = "pool:";
/** Appended to a pool sandbox's owner once it is claimed for retirement (a hand-out can no longer take it). */
const RETIRED_SUFFIX = ":retired";
/** After a failed pool start, wait this long before starting more (a broken image must not spin). */
const REFILL_BACKOFF_MS = 10_000;
/** Ready sandboxes examined per hand-out before falling back to a cold start. */
const HANDOUT_CANDIDATES = 8;
/** A pooled sandbox's liveness check must be quick: the point of the pool is speed. */
const HANDOUT_PROBE_TIMEOUT_MS = 2000;
/** How often each replica re-probes the next hand-out candidates; well inside KEPT_CONNECTION_MS. */
export const WARM_INTERVAL_MS = 20_000;

export function poolOwner(pool: string): string {
  return `${POOL_OWNER_PREFIX}${pool}`;
}

export interface PoolStatus {
  name: string;
  size: number;
  max: number | null;
  ready: number;
  starting: number;
  handed_out: number;
}

export interface HandOutRequest {
  ttl: number;
  metadata: Record<string, string>;
}

export interface PoolManagerOptions {
  store: Store;
  service: SandboxService;
  pools: readonly PoolConfig[];
  logger: Logger;
  /** Hand-outs and failed starts change what refill should do: wakes the refill duty. */
  onChange?: () => void;
  now?: () => number;
}

export class PoolManager {
  private readonly pools: ReadonlyMap<string, PoolConfig>;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly lastFailure = new Map<string, number>();
  /** Refill starts of this process still in flight, per pool. */
  private readonly inflight = new Map<string, Set<Promise<void>>>();
  private readonly probe = new KeptAliveProbe();
  private unconfiguredRetired = false;

  constructor(private readonly opts: PoolManagerOptions) {
    this.pools = new Map(opts.pools.map((p) => [p.name, p]));
    this.log = opts.logger.child({ component: "pools" });
    this.now = opts.now ?? Date.now;
  }

  get names(): string[] {
    return [...this.pools.keys()];
  }

  pool(name: string): PoolConfig {
    const p = this.pools.get(name);
    if (!p) {
      throw new ServiceError(
        "invalid_request",
        `pool: no pool ${JSON.stringify(name)}; pools: ${this.names.join(", ") || "none"}`,
        {
          issues: [
            {
              where: "pool",
              message: `no pool ${JSON.stringify(name)} (pools: ${this.names.join(", ") || "none"})`,
            },
          ],
        },
      );
    }
    return p;
  }

  /** The pool's deployment (merged over the service default by the create path). */
  deploymentOf(name: string): ConfigTree {
    return this.pool(name).deployment as ConfigTree;
  }

  /**
   * A ready sandbox of the pool, claimed for `owner`; undefined when none is ready (the caller then makes a
   * cold one). Dead candidates are stopped on the way.
   */
  async handOut(owner: string, name: string, req: HandOutRequest): Promise<SandboxRecord | undefined> {
    this.pool(name);
    const { store, service } = this.opts;
    for (const candidate of await this.candidates(name)) {
      if (candidate.handle === null) continue;
      // Its runtime answering is the proof that matters, and one local HTTP round trip is the cheapest
      // (an engine inspect on a busy dockerd costs more than the whole hand-out should).
      const handle = candidate.handle;
      const alive = await service
        .backend(candidate.backend)
        .target(handle)
        .then((t) => this.probe.answers(t, HANDOUT_PROBE_TIMEOUT_MS))
        .catch(() => false);
      if (!alive) {
        this.log.warn({ pool: name, sandbox: candidate.id }, "pooled sandbox does not answer: replacing it");
        void service.stop(candidate.id).catch(() => undefined);
        continue;
      }
      const claimed = await store.updateSandbox(
        candidate.id,
        { owner, expires_at: this.now() + req.ttl * 1000, metadata: req.metadata },
        candidate.version,
      );
      if (!claimed) continue; // another replica took it first
      service.adopt(claimed);
      this.opts.onChange?.();
      return claimed;
    }
    this.opts.onChange?.();
    return undefined;
  }

  /** The ready sandboxes a hand-out of pool `name` tries, in the order it tries them. */
  private async candidates(name: string): Promise<SandboxRecord[]> {
    const page = await this.opts.store.listSandboxes({
      owner: poolOwner(name),
      states: ["running"],
      limit: HANDOUT_CANDIDATES,
    });
    return page.items;
  }

  /**
   * Probes the next hand-out candidates of every pool (or the one sandbox `only`), leaving a connection
   * open to each for the hand-out to reuse. Every replica runs this for itself (connections are per
   * process); a dead candidate is left to the hand-out, which replaces it.
   */
  async warm(only?: SandboxRecord): Promise<void> {
    const records = only ? [only] : (await Promise.all(this.names.map((n) => this.candidates(n)))).flat();
    await Promise.all(
      records.map(async (r) => {
        if (r.handle === null) return;
        const target = await this.opts.service
          .backend(r.backend)
          .target(r.handle)
          .catch(() => undefined);
        if (target) await this.probe.warm(target, HANDOUT_PROBE_TIMEOUT_MS);
      }),
    );
  }

  async status(): Promise<PoolStatus[]> {
    const { store } = this.opts;
    return Promise.all(
      [...this.pools.values()].map(async (p) => {
        const [ready, starting, all] = await Promise.all([
          store.countSandboxes({ owner: poolOwner(p.name), states: ["running"] }),
          store.countSandboxes({ owner: poolOwner(p.name), states: ["queued", "starting"] }),
          store.countSandboxes({ pool: p.name, states: ["queued", "starting", "running", "paused"] }),
        ]);
        return {
          name: p.name,
          size: p.size,
          max: p.max,
          ready,
          starting,
          handed_out: all - ready - starting,
        };
      }),
    );
  }

  /** One refill round over every pool (the duty holder calls this). */
  async refill(): Promise<void> {
    if (!this.unconfiguredRetired) {
      await this.retireUnconfigured();
      this.unconfiguredRetired = true;
    }
    const statuses = await this.status();
    await Promise.all(statuses.map((s) => this.refillPool(s)));
  }

  /**
   * Ready sandboxes of pools the config no longer names (removed, or renamed, before this start) are
   * stopped: they have no lease, so nothing else would ever end them. Done once per process, by the
   * duty holder; a sandbox already handed out belongs to its key and is left alone.
   */
  private async retireUnconfigured(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.opts.store.listSandboxes({
        states: ["queued", "starting", "running", "paused"],
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      const orphans = page.items.filter((r) => {
        if (!r.owner.startsWith(POOL_OWNER_PREFIX) || r.owner.endsWith(RETIRED_SUFFIX)) return false;
        return !this.pools.has(r.owner.slice(POOL_OWNER_PREFIX.length));
      });
      if (orphans.length > 0) {
        this.log.info({ count: orphans.length }, "stopping ready sandboxes of pools no longer configured");
        await this.retire(orphans);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  private async refillPool(s: PoolStatus): Promise<void> {
    const p = this.pool(s.name);
    await this.retireIdle(p);
    await this.retireSurplus(p, s);
    const failedAt = this.lastFailure.get(p.name);
    if (failedAt !== undefined && this.now() - failedAt < REFILL_BACKOFF_MS) return;
    const inflight = this.inflight.get(p.name) ?? new Set();
    this.inflight.set(p.name, inflight);
    // Starts of this process not yet visible as records are few (create inserts before it returns).
    let want = p.size - s.ready - s.starting;
    if (p.max !== null) want = Math.min(want, p.max - (s.ready + s.starting + s.handed_out));
    for (let i = 0; i < want; i++) {
      const started = this.startOne(p).finally(() => inflight.delete(started));
      inflight.add(started);
      // The record is inserted before create returns (wait: false): the next round counts it.
      await started.catch(() => undefined);
    }
  }

  private async startOne(p: PoolConfig): Promise<void> {
    try {
      const { record } = await this.opts.service.create(
        poolOwner(p.name),
        { deployment: p.deployment as ConfigTree, wait: false },
        undefined,
        { pool: p.name, noLease: true, noQueue: true },
      );
      void this.watchStart(p, record.id);
    } catch (err) {
      this.lastFailure.set(p.name, this.now());
      const info = errorInfo(err);
      if (!(err instanceof ServiceError && err.code === "limit_exceeded")) {
        this.log.warn({ pool: p.name, error: info }, "could not start a pooled sandbox");
      }
      throw err;
    }
  }

  /** A pooled start that fails sets the back-off (checked in the store, so it works for any replica's start). */
  private async watchStart(p: PoolConfig, id: string): Promise<void> {
    const deadline = this.now() + 15 * 60_000;
    for (;;) {
      const rec = await this.opts.store.getSandbox(id).catch(() => undefined);
      if (!rec || (rec.state !== "queued" && rec.state !== "starting")) {
        if (rec?.state === "running") void this.warm(rec).catch(() => undefined);
        if (rec?.state === "failed") {
          this.lastFailure.set(p.name, this.now());
          this.log.warn({ pool: p.name, sandbox: id, error: rec.error }, "a pooled sandbox failed to start");
        }
        this.opts.onChange?.();
        return;
      }
      if (this.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Ready sandboxes that waited longer than idle_ttl are stopped (refill starts fresh ones). */
  private async retireIdle(p: PoolConfig): Promise<void> {
    if (p.idle_ttl === null) return;
    const cutoff = this.now() - p.idle_ttl * 1000;
    const page = await this.opts.store.listSandboxes({
      owner: poolOwner(p.name),
      states: ["running"],
      limit: 500,
    });
    await this.retire(page.items.filter((r) => (r.started_at ?? r.created_at) < cutoff));
  }

  /**
   * A pool above its size shrinks back (oldest first): a hand-out retried on two replicas with one
   * Idempotency-Key gives the loser's sandbox back after the refill may have replaced it, and a restart
   * may come with a smaller `size`.
   */
  private async retireSurplus(p: PoolConfig, s: PoolStatus): Promise<void> {
    const surplus = s.ready - p.size;
    if (surplus <= 0) return;
    const page = await this.opts.store.listSandboxes({
      owner: poolOwner(p.name),
      states: ["running"],
      limit: 500,
    });
    await this.retire(page.items.slice(0, surplus));
  }

  private async retire(records: SandboxRecord[]): Promise<void> {
    await Promise.all(
      records.map(async (r) => {
        // Claim it for retirement first, so a concurrent hand-out cannot give it away while it stops.
        const mine = await this.opts.store.updateSandbox(
          r.id,
          { owner: `${r.owner}${RETIRED_SUFFIX}` },
          r.version,
        );
        if (mine) await this.opts.service.stop(r.id).catch(() => undefined);
      }),
    );
  }

  /** Waits (bounded) for this process's refill starts, then closes the kept probe connections. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()].flatMap((s) => [...s]));
    await this.probe.close();
  }
}
