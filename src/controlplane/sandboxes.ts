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
import type { BackendAdapter, RuntimeTarget } from "./backends/index.js";
import { type DeploymentDefaults, resolveDeployment } from "./deployments.js";
import { errorInfo, notFound, ServiceError } from "./errors.js";
import { keyFingerprint, newSandboxId, requestHash } from "./ids.js";
import { withoutSecrets } from "./secrets.js";
import { ACTIVE_STATES, isTerminal, transition } from "./states.js";

/** When over a limit, clients are told to come back after this many seconds (Retry-After). */
const LIMIT_RETRY_AFTER_SEC = 5;
/** How often a retried create polls the store for a start that another process (or an earlier life) runs. */
const SETTLE_POLL_MS = 200;
/** Bound on waiting for someone else's start to settle. */
const SETTLE_TIMEOUT_MS = 15 * 60_000;

export interface CreateSandboxRequest {
  deployment?: ConfigTree;
  /** Seconds until the lease expires; default `defaultTtlSec`. */
  ttl?: number;
  metadata?: Record<string, string>;
  /** Default true: answer once running (or failed). */
  wait?: boolean;
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
  /** Creates with an Idempotency-Key that have not inserted their record yet, by owner and key. */
  private readonly claims = new Map<string, Promise<void>>();
  /** Owner and handle of running sandboxes, so the pass-through does not read the store per request. */
  private readonly running = new Map<string, { owner: string; backend: string; handle: Json }>();
  private admission: Promise<unknown> = Promise.resolve();
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

  async create(owner: string, req: CreateSandboxRequest, idempotencyKey?: string): Promise<CreateResult> {
    if (this.closed) throw new ServiceError("unavailable", "the service is shutting down");
    const ttl = this.checkTtl(req.ttl);
    const config = this.resolve(req.deployment);
    const wait = req.wait ?? true;

    const claimed = await this.claim(owner, req, ttl, config, idempotencyKey);
    if ("replay" in claimed) {
      const rec = claimed.replay;
      return { record: wait ? await this.settled(rec.id) : rec, created: false };
    }
    const record = claimed.record;
    const id = record.id;
    const abort = new AbortController();
    const done = this.runStart(record, config, abort.signal).finally(() => this.starts.delete(id));
    this.starts.set(id, { abort, done });
    if (!wait) return { record, created: true };
    await done;
    return { record: await this.mustGet(id), created: true };
  }

  /**
   * The record of this create: a new one, or (`replay`) the one an earlier request with the same
   * Idempotency-Key made. Requests with one key are serialized in this process until the first has inserted
   * its record; across processes, the key's row in the store decides, and an insert that lost a race to
   * another replica reads the winner's record.
   */
  private async claim(
    owner: string,
    req: CreateSandboxRequest,
    ttl: number,
    config: DeploymentConfig,
    idempotencyKey: string | undefined,
  ): Promise<{ record: SandboxRecord } | { replay: SandboxRecord }> {
    const metadata = req.metadata ?? {};
    if (idempotencyKey === undefined)
      return { record: await this.admit(owner, newSandboxId(), config, ttl, metadata) };
    const slot = `${owner}\n${idempotencyKey}`;
    for (let pending = this.claims.get(slot); pending; pending = this.claims.get(slot)) await pending;
    let release = () => {};
    this.claims.set(slot, new Promise<void>((r) => (release = r)));
    try {
      const hash = requestHash({ deployment: req.deployment ?? null, ttl: req.ttl ?? null, metadata });
      const { record: key, created } = await this.store.putIdempotency({
        owner,
        key: idempotencyKey,
        kind: "sandbox",
        request_hash: hash,
        resource_id: newSandboxId(),
        created_at: this.now(),
      });
      if (!created && (key.request_hash !== hash || key.kind !== "sandbox")) {
        throw new ServiceError(
          "invalid_request",
          "Idempotency-Key: this key was used with a different request body",
          {
            issues: [
              { where: "Idempotency-Key", message: "this key was used with a different request body" },
            ],
          },
        );
      }
      const existing = created ? undefined : await this.store.getSandbox(key.resource_id);
      if (existing) return { replay: existing };
      // New, or the first call died between claiming the key and inserting: this call creates it.
      try {
        return { record: await this.admit(owner, key.resource_id, config, ttl, metadata) };
      } catch (err) {
        const raced = await this.store.getSandbox(key.resource_id);
        if (raced) return { replay: raced };
        throw err;
      }
    } finally {
      this.claims.delete(slot);
      release();
    }
  }

  /** Limits check and insert, one create at a time (the count must include the insert before it). */
  private admit(
    owner: string,
    id: string,
    config: DeploymentConfig,
    ttl: number,
    metadata: Record<string, string>,
  ): Promise<SandboxRecord> {
    const run = async () => {
      const { maxSandboxes, maxSandboxesPerKey } = this.opts;
      if (maxSandboxes > 0) {
        const total = await this.store.countSandboxes({ states: [...ACTIVE_STATES] });
        if (total >= maxSandboxes) {
          throw new ServiceError(
            "limit_exceeded",
            `the service runs ${total} sandboxes, its limit (max_sandboxes=${maxSandboxes})`,
            { retryAfterSec: LIMIT_RETRY_AFTER_SEC },
          );
        }
      }
      if (maxSandboxesPerKey > 0) {
        const mine = await this.store.countSandboxes({ owner, states: [...ACTIVE_STATES] });
        if (mine >= maxSandboxesPerKey) {
          throw new ServiceError(
            "limit_exceeded",
            `this API key has ${mine} sandboxes, its limit (max_sandboxes_per_key=${maxSandboxesPerKey})`,
            { retryAfterSec: LIMIT_RETRY_AFTER_SEC },
          );
        }
      }
      const now = this.now();
      return this.store.insertSandbox({
        id,
        owner,
        state: transition("queued", "starting"),
        backend: config.type,
        deployment: withoutSecrets(config),
        handle: null,
        metadata,
        pool: null,
        host: null,
        error: null,
        created_at: now,
        started_at: null,
        stopped_at: null,
        expires_at: now + ttl * 1000,
      });
    };
    const result = this.admission.then(run, run);
    this.admission = result.catch(() => undefined);
    return result;
  }

  /** Starts the backend resource and records the outcome; never throws. */
  private async runStart(
    record: SandboxRecord,
    config: DeploymentConfig,
    signal: AbortSignal,
  ): Promise<void> {
    const backend = this.backend(config.type);
    const t0 = this.now();
    const log = this.log.child({ sandbox: record.id, backend: config.type });
    let handle: Json;
    try {
      handle = await backend.start(config, { sandboxId: record.id, serviceId: this.opts.serviceId, signal });
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
        this.running.set(record.id, { owner: record.owner, backend: record.backend, handle });
        const seconds = (this.now() - t0) / 1000;
        this.events.started?.(config.type, seconds);
        log.info({ seconds }, "sandbox running");
        return;
      }
    }
    log.info("sandbox was deleted while it started");
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
    if (rec.state !== "stopping") {
      const updated = await this.store.updateSandbox(id, { state: transition(rec.state, "stopping") });
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
        // Stays `stopping`: the reaper tries again.
        return rec;
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
    if (live.owner !== owner) throw notFound(id);
    return this.backend(live.backend).target(live.handle);
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
