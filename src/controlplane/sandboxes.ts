/**
 * The sandbox service: create, list, lease, pause/resume and delete sandboxes for API-key owners, with the
 * store as the source of truth. Guarantees:
 * - every state change is written (through `transition`) before the call that caused it returns;
 * - an `Idempotency-Key` maps to one sandbox per owner for good (also across restarts): a retry, even while
 *   the first call is still starting it, returns that sandbox and never starts a second one;
 * - limits (`max_sandboxes` total and per owner) are checked and the record inserted under one lock, so
 *   concurrent creates cannot overshoot them in one process;
 * - a sandbox deleted while it starts is stopped once its start settles; nothing started is left behind.
 */
import type { Logger } from "pino";
import { ConfigError, type ConfigTree } from "../config/index.js";
import type { DeploymentConfig } from "../deployment/index.js";
import type { Json, Page, SandboxRecord, SandboxState, Store } from "../store/types.js";
import { type AdmissionQueue, QueueFullError, QueueTimeoutError } from "./admission.js";
import type { BackendAdapter, RuntimeTarget } from "./backends/index.js";
import { type DeploymentDefaults, resolveDeployment } from "./deployments.js";
import { errorInfo, notFound, ServiceError } from "./errors.js";
import type { Placement } from "./fleet-placer.js";
import { keyFingerprint, newSandboxId, requestHash } from "./ids.js";
import { starterAliveMemo } from "./liveness.js";
import { poolOwner } from "./pool-manager.js";
import { withoutSecrets } from "./secrets.js";
import { ACTIVE_STATES, HOLDING_STATES, isTerminal, transition } from "./states.js";

/** When over a limit, clients are told to come back after this many seconds (Retry-After). */
const LIMIT_RETRY_AFTER_SEC = 5;
/** How often a retried create polls the store for a start that another process (or an earlier life) runs. */
const SETTLE_POLL_MS = 200;
/**
 * A key claimed but without its record yet: the claimer (any replica) inserts within milliseconds unless it
 * died; after this long the retry creates the sandbox itself.
 */
const CLAIM_TO_INSERT_GRACE_MS = 10_000;
/** Bound on waiting for someone else's start to settle. */
const SETTLE_TIMEOUT_MS = 15 * 60_000;

export interface CreateSandboxRequest {
  deployment?: ConfigTree;
  /** Seconds until the lease expires; default `defaultTtlSec`. */
  ttl?: number;
  metadata?: Record<string, string>;
  /** Default true: answer once running (or failed). */
  wait?: boolean;
  /** A warm pool to take a ready sandbox from (instead of `deployment`). */
  pool?: string;
}

export interface ListSandboxesRequest {
  state?: SandboxState[];
  metadata?: Record<string, string>;
  limit?: number;
  cursor?: string;
}

/** Observability hooks (prom-client lives in the HTTP layer). */
export interface SandboxEvents {
  started?(backend: string, seconds: number): void;
  backendError?(backend: string, code: string): void;
  reaped?(action: "expired" | "retried_stop" | "stop_failed"): void;
}

export interface SandboxServiceOptions {
  store: Store;
  serviceId: string;
  /**
   * This replica's per-life id, recorded as `starter` on the sandboxes it queues, starts and stops: with a
   * liveness lease under that id, another replica can tell a start nobody runs any more (stale-starts.ts),
   * and a stop still under way from one to retry (reaper.ts).
   */
  starter?: string;
  backends: ReadonlyMap<string, BackendAdapter>;
  defaults: DeploymentDefaults;
  defaultTtlSec: number;
  maxTtlSec: number;
  /** 0 = no limit. */
  maxSandboxes: number;
  maxSandboxesPerKey: number;
  logger: Logger;
  events?: SandboxEvents;
  now?: () => number;
  /** Fleet placement (`docker_hosts`): host or overflow per sandbox; undefined when nothing has room. */
  placer?: { place(config: DeploymentConfig): Promise<Placement | undefined> };
  /** Admission: creates without room wait in this FIFO queue up to `timeoutMs` (state `queued`). */
  admission?: { queue: AdmissionQueue; timeoutMs: number };
  /** Warm pools: `create({pool})` takes a ready sandbox from them. */
  pools?: {
    deploymentOf(pool: string): ConfigTree;
    handOut(
      owner: string,
      pool: string,
      req: { ttl: number; metadata: Record<string, string> },
    ): Promise<SandboxRecord | undefined>;
  };
}

/** How the service itself creates sandboxes (warm pools), beyond what a request can ask for. */
export interface InternalCreateOptions {
  /** The warm pool the sandbox belongs to (recorded in `pool`). */
  pool?: string;
  /** No lease: the sandbox lives until the service stops it (a pooled sandbox waiting to be claimed). */
  noLease?: boolean;
  /** Fail at once when there is no room instead of waiting in the admission queue. */
  noQueue?: boolean;
}

export interface CreateResult {
  record: SandboxRecord;
  /** False when an `Idempotency-Key` replay returned an existing sandbox. */
  created: boolean;
}

export class SandboxService {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly events: SandboxEvents;
  private readonly now: () => number;
  /** Starts running in this process: their abort handles and their settling. */
  private readonly starts = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly stops = new Map<string, Promise<SandboxRecord>>();
  /** Owner and handle of running sandboxes, so the pass-through does not read the store per request. */
  private readonly running = new Map<string, { owner: string; backend: string; handle: Json }>();
  private admission: Promise<unknown> = Promise.resolve();
  /** Queue positions of this process's waiting creates (1 = next), shown by the API while `queued`. */
  private readonly positions = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: SandboxServiceOptions) {
    this.store = opts.store;
    this.log = opts.logger.child({ component: "sandboxes" });
    this.events = opts.events ?? {};
    this.now = opts.now ?? Date.now;
  }

  /** The owner fingerprint of an API key. */
  static ownerOf(apiKey: string): string {
    return keyFingerprint(apiKey);
  }

  get servableTypes(): string[] {
    return [...this.opts.backends.keys()];
  }

  backend(type: string): BackendAdapter {
    const b = this.opts.backends.get(type);
    if (!b) throw new Error(`no backend for deployment type ${type}`);
    return b;
  }

  private checkTtl(ttl: number | undefined, where = "ttl"): number {
    const value = ttl ?? this.opts.defaultTtlSec;
    if (value > this.opts.maxTtlSec) {
      throw new ServiceError("invalid_request", `${where}: at most ${this.opts.maxTtlSec} s, got ${value}`, {
        issues: [{ where, message: `at most ${this.opts.maxTtlSec} (max_ttl), got ${value}` }],
      });
    }
    return value;
  }

  private resolve(deployment: ConfigTree | undefined): DeploymentConfig {
    try {
      return resolveDeployment(deployment, this.opts.defaults, this.servableTypes);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ServiceError("invalid_request", err.message, { issues: err.issues });
    }
  }

  async create(
    owner: string,
    req: CreateSandboxRequest,
    idempotencyKey?: string,
    internal?: InternalCreateOptions,
  ): Promise<CreateResult> {
    if (this.closed) throw new ServiceError("unavailable", "the service is shutting down");
    const ttl = this.checkTtl(req.ttl);
    const wait = req.wait ?? true;
    const hash = requestHash({
      deployment: req.deployment ?? null,
      ttl: req.ttl ?? null,
      metadata: req.metadata ?? {},
      ...(req.pool !== undefined ? { pool: req.pool } : {}),
    });
    if (req.pool !== undefined) {
      const fromPool = await this.fromPool(owner, req, ttl, hash, idempotencyKey);
      if ("record" in fromPool) return fromPool;
      // The pool had nothing ready: a cold start of its deployment, recorded as the pool's.
      req = { ...req, deployment: fromPool.deployment };
      internal = { ...internal, pool: req.pool };
    }
    const config = this.resolve(req.deployment);

    let id = newSandboxId();
    if (idempotencyKey !== undefined) {
      const { record, created } = await this.store.putIdempotency({
        owner,
        key: idempotencyKey,
        kind: "sandbox",
        request_hash: hash,
        resource_id: id,
        created_at: this.now(),
      });
      if (!created) {
        if (record.request_hash !== hash || record.kind !== "sandbox") throw keyReused();
        id = record.resource_id;
        // The first call (maybe on another replica) inserts right after claiming the key: give it a moment.
        const existing = await this.awaitRecord(id, record.created_at + CLAIM_TO_INSERT_GRACE_MS);
        // Still absent: the first call died between claiming the key and inserting; this call creates it.
        if (existing) return { record: wait ? await this.settled(id) : existing, created: false };
      }
    }

    const entry: Entry = { owner, id, config, ttl, metadata: req.metadata ?? {}, internal: internal ?? {} };
    const admission = this.opts.admission;
    if (!admission || entry.internal.noQueue) {
      const { record, placement } = await this.admit(entry);
      const done = this.launch(record, placement, new AbortController());
      if (!wait) return { record, created: true };
      await done;
      return { record: await this.mustGet(id), created: true };
    }
    return this.createQueued(entry, admission, wait);
  }

  /**
   * The deployment config of warm pool `pool` (what its sandboxes run); a 422 naming `pool` when the service
   * has no such pool, or when the request also gives a deployment (`withDeployment`).
   */
  poolDeployment(pool: string, withDeployment = false): ConfigTree {
    const pools = this.opts.pools;
    if (!pools) {
      throw new ServiceError("invalid_request", "pool: this service has no pools", {
        issues: [{ where: "pool", message: "this service has no pools" }],
      });
    }
    if (withDeployment) {
      throw new ServiceError("invalid_request", "pool: give either pool or deployment, not both", {
        issues: [{ where: "pool", message: "give either pool or deployment, not both" }],
      });
    }
    return pools.deploymentOf(pool);
  }

  /**
   * `create({pool})`: a ready sandbox of the pool, or the pool's deployment for a cold start when none is
   * ready. With an Idempotency-Key, a key already used returns its sandbox; a hand-out that loses the key
   * to a concurrent retry (another replica) goes back to the pool, and the winner's sandbox is returned.
   */
  private async fromPool(
    owner: string,
    req: CreateSandboxRequest,
    ttl: number,
    hash: string,
    key: string | undefined,
  ): Promise<CreateResult | { deployment: ConfigTree }> {
    const pool = req.pool as string;
    const deployment = this.poolDeployment(pool, req.deployment !== undefined);
    const pools = this.opts.pools as NonNullable<SandboxServiceOptions["pools"]>;
    const wait = req.wait ?? true;
    const replay = async (rec: { request_hash: string; kind: string; resource_id: string }) => {
      if (rec.request_hash !== hash || rec.kind !== "sandbox") throw keyReused();
      const existing = await this.store.getSandbox(rec.resource_id);
      return existing
        ? { record: wait ? await this.settled(existing.id) : existing, created: false }
        : undefined;
    };
    if (key !== undefined) {
      const prior = await this.store.getIdempotency(owner, key);
      const replayed = prior ? await replay(prior) : undefined;
      if (replayed) return replayed;
    }
    const handed = await pools.handOut(owner, pool, { ttl, metadata: req.metadata ?? {} });
    if (!handed) return { deployment };
    if (key !== undefined) {
      const { record, created } = await this.store.putIdempotency({
        owner,
        key,
        kind: "sandbox",
        request_hash: hash,
        resource_id: handed.id,
        created_at: this.now(),
      });
      if (!created) {
        // Give ours back untouched by the claim, then answer with the winner's.
        this.running.delete(handed.id);
        await this.store.updateSandbox(
          handed.id,
          { owner: poolOwner(pool), expires_at: null, metadata: {} },
          handed.version,
        );
        const replayed = await replay(record);
        if (replayed) return replayed;
        throw new ServiceError(
          "conflict",
          "Idempotency-Key: a concurrent request with this key has not finished",
        );
      }
    }
    return { record: handed, created: true };
  }

  /**
   * `POST /v1/sandboxes/batch`: `count` sandboxes of one request, all running or none. Room for the whole
   * group is reserved at once through the admission queue (waiting up to `timeoutSec`), so a group never
   * holds part of the fleet while it waits for the rest; if any member fails to start, every member is
   * stopped and the call fails.
   */
  async createGroup(
    owner: string,
    req: CreateSandboxRequest,
    count: number,
    timeoutSec?: number,
  ): Promise<SandboxRecord[]> {
    if (this.closed) throw new ServiceError("unavailable", "the service is shutting down");
    const ttl = this.checkTtl(req.ttl);
    const config = this.resolve(req.deployment);
    const admission = this.opts.admission;
    let reservation: { release(): void } | undefined;
    if (admission) {
      try {
        reservation = await admission.queue.acquire(count, {
          timeoutMs: (timeoutSec ?? admission.timeoutMs / 1000) * 1000,
        });
      } catch (err) {
        if (err instanceof QueueFullError)
          throw new ServiceError("limit_exceeded", err.message, { retryAfterSec: err.retryAfterSec });
        if (err instanceof QueueTimeoutError) {
          throw new ServiceError(
            "unavailable",
            `no room for a group of ${count} before the deadline: ${err.message}`,
            {
              retryAfterSec: LIMIT_RETRY_AFTER_SEC,
            },
          );
        }
        throw err;
      }
    }
    const admitted: { record: SandboxRecord; placement: Placement }[] = [];
    try {
      for (let i = 0; i < count; i++) {
        admitted.push(
          await this.admit({
            owner,
            id: newSandboxId(),
            config,
            ttl,
            metadata: req.metadata ?? {},
            internal: {},
          }),
        );
      }
    } catch (err) {
      await Promise.allSettled(admitted.map((a) => this.stop(a.record.id)));
      throw err;
    } finally {
      reservation?.release();
    }
    await Promise.all(admitted.map((a) => this.launch(a.record, a.placement, new AbortController())));
    const records = await Promise.all(admitted.map((a) => this.mustGet(a.record.id)));
    const failed = records.find((r) => r.state !== "running");
    if (failed) {
      const stopped = await Promise.all(records.map((r) => this.stop(r.id)));
      throw new ServiceError(
        "start_failed",
        `sandbox ${failed.id} of the group failed to start (${failed.error?.message ?? failed.state}); all ${count} were stopped`,
        { sandbox: stopped.find((r) => r.id === failed.id) ?? failed },
      );
    }
    return records;
  }

  /** The queue position of a create waiting in this process (undefined when it is not waiting here). */
  queuePosition(id: string): number | undefined {
    return this.positions.get(id);
  }

  /**
   * A create through the admission queue: granted at once when there is room; else recorded as `queued`
   * (with its position) and started when its turn comes, or `failed` with `QueueTimeout` at queue_timeout.
   */
  private async createQueued(
    entry: Entry,
    admission: NonNullable<SandboxServiceOptions["admission"]>,
    wait: boolean,
  ): Promise<CreateResult> {
    const { id } = entry;
    const abort = new AbortController();
    let queued: Promise<SandboxRecord> | undefined;
    let entered: () => void = () => {};
    const inQueue = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const ticket = admission.queue.acquire(1, {
      timeoutMs: admission.timeoutMs,
      signal: abort.signal,
      onPosition: (position) => {
        this.positions.set(id, position);
        queued ??= this.insertQueued(entry);
        entered();
      },
    });
    const first = await Promise.race([
      ticket.then(
        (reservation) => ({ reservation }),
        (error: unknown) => ({ error }),
      ),
      inQueue.then(() => undefined),
    ]);
    if (first && "error" in first) {
      const err = first.error;
      if (err instanceof QueueFullError) {
        throw new ServiceError("limit_exceeded", err.message, { retryAfterSec: err.retryAfterSec });
      }
      throw err;
    }
    if (first) {
      const { record, placement } = await this.admit(entry).finally(() => first.reservation.release());
      const done = this.launch(record, placement, abort);
      if (!wait) return { record, created: true };
      await done;
      return { record: await this.mustGet(id), created: true };
    }
    const record = await (queued as Promise<SandboxRecord>);
    const done = ticket
      .then(
        async (reservation) => {
          this.positions.delete(id);
          let admitted: { record: SandboxRecord; placement: Placement } | undefined;
          try {
            admitted = await this.admit(entry, record);
          } catch (err) {
            await this.failQueued(id, errorInfo(err));
            return;
          } finally {
            reservation.release();
          }
          this.starts.delete(id);
          await this.launch(admitted.record, admitted.placement, abort);
        },
        async (err: unknown) => {
          this.positions.delete(id);
          if (err instanceof QueueTimeoutError)
            await this.failQueued(id, { class: "QueueTimeout", message: err.message });
          else if (!abort.signal.aborted) await this.failQueued(id, errorInfo(err));
        },
      )
      .finally(() => {
        if (this.starts.get(id)?.done === done) this.starts.delete(id);
      });
    this.starts.set(id, { abort, done });
    if (!wait) return { record, created: true };
    await done;
    return { record: await this.mustGet(id), created: true };
  }

  private insertQueued(e: Entry): Promise<SandboxRecord> {
    const now = this.now();
    return this.store.insertSandbox({
      id: e.id,
      owner: e.owner,
      state: "queued",
      backend: e.config.type,
      deployment: withoutSecrets(e.config),
      handle: null,
      metadata: e.metadata,
      pool: e.internal.pool ?? null,
      host: null,
      starter: this.opts.starter ?? null,
      error: null,
      created_at: now,
      started_at: null,
      stopped_at: null,
      expires_at: e.internal.noLease ? null : now + e.ttl * 1000,
    });
  }

  /** A queued sandbox that never got room (or whose placement failed) becomes `failed`, if still queued. */
  private async failQueued(id: string, error: { class: string; message: string }): Promise<void> {
    const rec = await this.store.getSandbox(id);
    if (rec?.state !== "queued") return;
    await this.store.updateSandbox(
      id,
      { state: transition("queued", "failed"), error, stopped_at: this.now() },
      rec.version,
    );
  }

  /** Starts the admitted sandbox in the background; the promise settles when its start has. */
  private launch(record: SandboxRecord, placement: Placement, abort: AbortController): Promise<void> {
    const id = record.id;
    const done = this.runStart(record, placement, abort.signal).finally(() => {
      if (this.starts.get(id)?.done === done) this.starts.delete(id);
    });
    this.starts.set(id, { abort, done });
    return done;
  }

  /**
   * Limits check, placement and insert (or a queued record's move to `starting`), one create at a time (the
   * counts must include the record before it).
   */
  private admit(e: Entry, queued?: SandboxRecord): Promise<{ record: SandboxRecord; placement: Placement }> {
    const { owner, id, ttl, metadata } = e;
    const run = async () => {
      const { maxSandboxes, maxSandboxesPerKey } = this.opts;
      if (maxSandboxes > 0) {
        const total = await this.store.countSandboxes({ states: [...HOLDING_STATES] });
        if (total >= maxSandboxes) {
          throw new ServiceError(
            "limit_exceeded",
            `the service runs ${total} sandboxes, its limit (max_sandboxes=${maxSandboxes})`,
            { retryAfterSec: LIMIT_RETRY_AFTER_SEC },
          );
        }
      }
      if (maxSandboxesPerKey > 0) {
        const mine = await this.store.countSandboxes({ owner, states: [...HOLDING_STATES] });
        if (mine >= maxSandboxesPerKey) {
          throw new ServiceError(
            "limit_exceeded",
            `this API key has ${mine} sandboxes, its limit (max_sandboxes_per_key=${maxSandboxesPerKey})`,
            { retryAfterSec: LIMIT_RETRY_AFTER_SEC },
          );
        }
      }
      const placement = this.opts.placer
        ? await this.opts.placer.place(e.config)
        : { config: e.config, host: null };
      if (!placement) {
        throw new ServiceError(
          "limit_exceeded",
          "every docker host is full and there is no overflow deployment",
          {
            retryAfterSec: LIMIT_RETRY_AFTER_SEC,
          },
        );
      }
      const { config, host } = placement;
      const now = this.now();
      const fields = {
        state: transition("queued", "starting"),
        backend: config.type,
        deployment: withoutSecrets(config),
        host,
        starter: this.opts.starter ?? null,
        // The lease runs from the start, not from the time spent waiting in the queue.
        expires_at: e.internal.noLease ? null : now + ttl * 1000,
      };
      if (queued) {
        const record = await this.store.updateSandbox(id, fields, queued.version);
        // Deleted (or failed) while waiting: nothing to start.
        if (!record) throw new ServiceError("conflict", `sandbox ${id} left the queue before its turn`);
        return { record, placement };
      }
      const record = await this.store.insertSandbox({
        id,
        owner,
        ...fields,
        handle: null,
        metadata,
        pool: e.internal.pool ?? null,
        error: null,
        created_at: now,
        started_at: null,
        stopped_at: null,
      });
      return { record, placement };
    };
    const result = this.admission.then(run, run);
    this.admission = result.catch(() => undefined);
    return result;
  }

  /** Starts the backend resource and records the outcome; never throws. */
  private async runStart(record: SandboxRecord, placement: Placement, signal: AbortSignal): Promise<void> {
    const { config } = placement;
    const backend = this.backend(config.type);
    const t0 = this.now();
    const log = this.log.child({ sandbox: record.id, backend: config.type });
    let handle: Json;
    try {
      handle = await backend.start(config, {
        sandboxId: record.id,
        serviceId: this.opts.serviceId,
        signal,
        ...(placement.host !== null ? { host: placement.host } : {}),
      });
    } catch (err) {
      const info = errorInfo(err);
      const current = await this.store.getSandbox(record.id);
      if (signal.aborted || current?.state !== "starting") {
        log.info({ error: info.message }, "start cancelled");
        return;
      }
      log.warn({ error: info }, "sandbox failed to start");
      this.events.backendError?.(config.type, info.class);
      await this.store.updateSandbox(record.id, { state: transition("starting", "failed"), error: info });
      return;
    }
    // The handle first: whoever deletes the sandbox meanwhile stops it from the handle.
    const withHandle = await this.store.updateSandbox(record.id, { handle });
    if (withHandle?.state === "starting") {
      const running = await this.store.updateSandbox(
        record.id,
        { state: transition("starting", "running"), started_at: this.now() },
        withHandle.version,
      );
      if (running) {
        this.running.set(record.id, { owner: running.owner, backend: running.backend, handle });
        const seconds = (this.now() - t0) / 1000;
        this.events.started?.(config.type, seconds);
        log.info({ seconds }, "sandbox running");
        return;
      }
    }
    // Deleted (`stopping`): the stop finishes from the handle. Already terminal: another replica swept the
    // start as abandoned (this process stalled past its liveness lease), so nobody else stops what it made.
    if (withHandle && isTerminal(withHandle.state)) {
      await backend
        .stop(handle)
        .catch((err: unknown) => log.warn({ error: errorInfo(err) }, "could not stop a swept start"));
      log.info({ state: withHandle.state }, "start finished after it was swept: stopped what it made");
      return;
    }
    log.info("sandbox was deleted while it started");
  }

  /** The record `id` once it exists, polling until `until` (epoch ms); undefined if it never appears. */
  private async awaitRecord(id: string, until: number): Promise<SandboxRecord | undefined> {
    for (;;) {
      const rec = await this.store.getSandbox(id);
      if (rec || this.now() > until) return rec;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS / 4));
    }
  }

  /** The record once it is not `starting` any more (for a retried create). */
  private async settled(id: string): Promise<SandboxRecord> {
    await this.starts.get(id)?.done;
    const deadline = this.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const rec = await this.mustGet(id);
      if (rec.state !== "starting" && rec.state !== "queued") return rec;
      if (this.now() > deadline) return rec;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
  }

  private async mustGet(id: string): Promise<SandboxRecord> {
    const rec = await this.store.getSandbox(id);
    if (!rec) throw notFound(id);
    return rec;
  }

  async get(owner: string, id: string): Promise<SandboxRecord> {
    const rec = await this.store.getSandbox(id);
    if (!rec || rec.owner !== owner) throw notFound(id);
    return rec;
  }

  list(owner: string, req: ListSandboxesRequest): Promise<Page<SandboxRecord>> {
    return this.store.listSandboxes({
      owner,
      ...(req.state ? { states: req.state } : {}),
      ...(req.metadata ? { metadata: req.metadata } : {}),
      ...(req.limit !== undefined ? { limit: req.limit } : {}),
      ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
    });
  }

  /** Extends the lease to `ttl` seconds from now. */
  async lease(owner: string, id: string, ttl: number): Promise<SandboxRecord> {
    this.checkTtl(ttl);
    const rec = await this.get(owner, id);
    if (!["starting", "running", "paused"].includes(rec.state)) {
      throw new ServiceError("conflict", `sandbox ${id} is ${rec.state}; only live sandboxes have a lease`);
    }
    const updated = await this.store.updateSandbox(id, { expires_at: this.now() + ttl * 1000 });
    if (!updated) throw notFound(id);
    return updated;
  }

  async pause(owner: string, id: string): Promise<SandboxRecord> {
    return this.pauseOrResume(owner, id, "pause");
  }

  async resume(owner: string, id: string): Promise<SandboxRecord> {
    return this.pauseOrResume(owner, id, "resume");
  }

  private async pauseOrResume(owner: string, id: string, op: "pause" | "resume"): Promise<SandboxRecord> {
    const rec = await this.get(owner, id);
    const backend = this.backend(rec.backend);
    const call = op === "pause" ? backend.pause : backend.resume;
    if (!backend.canPause || !call) {
      throw new ServiceError(
        "conflict",
        `${rec.backend} sandboxes cannot be paused or resumed (only tencentags sandboxes can)`,
      );
    }
    const [from, to]: [SandboxState, SandboxState] =
      op === "pause" ? ["running", "paused"] : ["paused", "running"];
    if (rec.state === to) return rec;
    if (rec.state !== from)
      throw new ServiceError("conflict", `sandbox ${id} is ${rec.state}; cannot ${op} it`);
    try {
      await call.call(backend, rec.handle);
    } catch (err) {
      const info = errorInfo(err);
      this.events.backendError?.(rec.backend, info.class);
      throw new ServiceError("conflict", `could not ${op} sandbox ${id}: ${info.message}`);
    }
    const updated = await this.store.updateSandbox(id, { state: transition(from, to) });
    if (!updated) throw notFound(id);
    if (to === "paused") this.running.delete(id);
    return updated;
  }

  /** Stops the sandbox and returns the stopped record; a stopped (failed, lost) one is returned as it is. */
  async remove(owner: string, id: string): Promise<SandboxRecord> {
    await this.get(owner, id);
    return this.stop(id);
  }

  /** Stops a sandbox whoever owns it (DELETE, the reaper, `--stop_on_exit`). Concurrent calls share one stop. */
  stop(id: string): Promise<SandboxRecord> {
    let p = this.stops.get(id);
    if (!p) {
      p = this.doStop(id).finally(() => this.stops.delete(id));
      this.stops.set(id, p);
    }
    return p;
  }

  private async doStop(id: string): Promise<SandboxRecord> {
    let rec = await this.mustGet(id);
    if (isTerminal(rec.state)) return rec;
    this.running.delete(id);
    // The stop is this replica's from here on (`starter`): other replicas' reapers leave it alone meanwhile.
    const self = this.opts.starter;
    if (rec.state !== "stopping" || (self !== undefined && rec.starter !== self)) {
      const updated = await this.store.updateSandbox(id, {
        ...(rec.state !== "stopping" ? { state: transition(rec.state, "stopping") } : {}),
        ...(self !== undefined ? { starter: self } : {}),
      });
      if (!updated) throw notFound(id);
      rec = updated;
    }
    const start = this.starts.get(id);
    if (start) {
      start.abort.abort(new Error("sandbox deleted while starting"));
      await start.done;
      rec = await this.mustGet(id);
    }
    if (rec.handle !== null) {
      try {
        await this.backend(rec.backend).stop(rec.handle);
      } catch (err) {
        const info = errorInfo(err);
        this.events.backendError?.(rec.backend, info.class);
        this.log.warn({ sandbox: id, error: info }, "could not stop sandbox; the reaper retries");
        // Stays `stopping`, claimed by nobody (unless another replica took the stop over meanwhile): any
        // replica's reaper tries again.
        const released = await this.store
          .updateSandbox(id, { starter: null }, rec.version)
          .catch(() => undefined);
        return released ?? rec;
      }
    }
    const stopped = await this.store.updateSandbox(id, {
      state: transition("stopping", "stopped"),
      stopped_at: this.now(),
      handle: null,
    });
    if (!stopped) throw notFound(id);
    this.log.info({ sandbox: id }, "sandbox stopped");
    return stopped;
  }

  /**
   * Where the pass-through sends a running sandbox's runtime calls. `not_found` for unknown ids and other
   * owners' sandboxes; `conflict` when it is not running.
   */
  async runtimeTarget(owner: string, id: string): Promise<RuntimeTarget> {
    let live = this.running.get(id);
    if (!live) {
      const rec = await this.get(owner, id);
      if (rec.state !== "running" || rec.handle === null) {
        throw new ServiceError("conflict", `sandbox ${id} is ${rec.state}, not running`);
      }
      live = { owner: rec.owner, backend: rec.backend, handle: rec.handle };
      this.running.set(id, live);
    }
    if (live.owner !== owner) {
      // A warm pool's sandbox changes owner once, when it is handed out (maybe by another replica).
      const rec = await this.get(owner, id);
      if (rec.state !== "running" || rec.handle === null) {
        throw new ServiceError("conflict", `sandbox ${id} is ${rec.state}, not running`);
      }
      live = { owner: rec.owner, backend: rec.backend, handle: rec.handle };
      this.running.set(id, live);
    }
    return this.backend(live.backend).target(live.handle);
  }

  /**
   * Whether another replica that is alive runs this `stopping` record's stop (it claimed it as `starter`
   * and has not released it): a retry from here would only send the same stop twice. `isAlive` (from
   * `starterAliveMemo`) reads each replica's lease once over a round of many records.
   */
  stopRunElsewhere(rec: SandboxRecord, isAlive = starterAliveMemo(this.store, this.now())): Promise<boolean> {
    const claimer = rec.starter;
    if (rec.state !== "stopping" || claimer === null || claimer === this.opts.starter) {
      return Promise.resolve(false);
    }
    return isAlive(claimer);
  }

  /** Marks a sandbox adopted at start-up (its runtime answers) as reachable through the pass-through. */
  adopt(rec: SandboxRecord): void {
    if (rec.handle !== null)
      this.running.set(rec.id, { owner: rec.owner, backend: rec.backend, handle: rec.handle });
  }

  forget(id: string): void {
    this.running.delete(id);
  }

  /** No new creates; waits (bounded by the caller) for starts in progress to settle. */
  async drain(): Promise<void> {
    this.closed = true;
    // Waiting creates leave now (their records become failed), instead of after queue_timeout.
    this.opts.admission?.queue.close();
    await Promise.allSettled([...this.starts.values()].map((s) => s.done));
    await Promise.allSettled([...this.stops.values()]);
  }

  /** Every active sandbox, page by page (reconciliation, `--stop_on_exit`). */
  async *active(states: SandboxState[] = [...ACTIVE_STATES]): AsyncGenerator<SandboxRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.store.listSandboxes({ states, limit: 500, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
}

/** One create on its way through admission. */
interface Entry {
  owner: string;
  id: string;
  config: DeploymentConfig;
  ttl: number;
  metadata: Record<string, string>;
  internal: InternalCreateOptions;
}

function keyReused(): ServiceError {
  return new ServiceError(
    "invalid_request",
    "Idempotency-Key: this key was used with a different request body",
    {
      issues: [{ where: "Idempotency-Key", message: "this key was used with a different request body" }],
    },
  );
}
