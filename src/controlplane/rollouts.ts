/**
 * Rollouts as a service (`/v1/rollouts`): each accepted request is a store record that goes queued ->
 * running -> completed|failed|cancelled, and runs through the same `runRollout` as `run-batch`, with the same
 * keys and defaults. Guarantees:
 * - at most `maxRollouts` run at once; the rest start in FIFO order;
 * - a rollout's sandbox is a service sandbox of its owner (record, lease, `rollout_id` metadata) and is
 *   stopped when the rollout ends, whatever happened (cancel included);
 * - the result record (patch, reward, score, failure_class, timings, trajectory, verl fields) is written to
 *   the store before anyone is told the rollout is done;
 * - after a restart, rollouts the previous life had not finished are `failed` with failure class
 *   `infrastructure` (requests keep no secrets in the store, so they cannot be run again) and their
 *   sandboxes are stopped;
 * - with `policy.type=trainer`, model calls wait in one shared TrainerPolicy whose session id is the rollout
 *   id; a key's trainer sees only its own rollouts' calls.
 */
import { isAbsolute } from "node:path";
import type { Logger } from "pino";
import { ConfigError, type ConfigIssue, type ConfigTree, zodIssues } from "../config/index.js";
import { type AgentConfig, validateAgentConfig } from "../rollout/agents/config.js";
import { createPolicy, PolicyConfigSchema } from "../rollout/policy/create.js";
import type { TrainerError, TrainerRequest } from "../rollout/policy/trainer.js";
import { TrainerPolicy } from "../rollout/policy/trainer.js";
import { type ModelProxy, startModelProxy } from "../rollout/proxy/model-proxy.js";
import { RewardConfig } from "../rollout/reward/reward.js";
import { type RolloutResult, type RolloutStatus, runRollout } from "../rollout/rollout.js";
import { parseTask, type SweTask, TaskFormatError } from "../rollout/tasks/task.js";
import type { PolicyBackend, PolicyResponse } from "../rollout/types.js";
import type { Json, Page, RolloutRecord, RolloutState, Store } from "../store/types.js";
import { type DeploymentDefaults, resolveDeployment } from "./deployments.js";
import { ServiceError } from "./errors.js";
import { requestHash } from "./ids.js";
import { RolloutQueue } from "./rollout-queue.js";
import { RolloutSandboxDeployment } from "./rollout-sandbox.js";
import type { SandboxService } from "./sandboxes.js";
import { withoutSecrets } from "./secrets.js";

/** Rollouts running at once unless `--max_rollouts` says otherwise. */
export const DEFAULT_MAX_ROLLOUTS = 16;
/** run-batch's defaults: seconds per model call, and per sandbox start. */
const MODEL_TIMEOUT_S = 600;
const PROVISION_TIMEOUT_S = 1200;
/** Lease of a rollout's sandbox beyond the rollout's own deadlines (setup, patch, stop). */
const LEASE_MARGIN_S = 600;
/** How long a DELETE waits for a running rollout to wind down (agent kill_timeout + sandbox stop). */
const CANCEL_WAIT_MS = 120_000;
/** The failure class of rollouts a service restart interrupted. */
export const INFRASTRUCTURE_FAILURE = "infrastructure";

export interface RolloutServiceOptions {
  store: Store;
  sandboxes: SandboxService;
  defaults: DeploymentDefaults;
  /** 0 = no limit. */
  maxRollouts: number;
  maxTtlSec: number;
  logger: Logger;
  modelTimeoutS?: number;
  /** Fail the rollouts a previous life left unfinished (default true; false while another replica is alive). */
  recover?: boolean;
}

export interface ListRolloutsRequest {
  state?: RolloutState[];
  metadata?: Record<string, string>;
  limit?: number;
  cursor?: string;
}

/** A call handed to an HTTP trainer. */
export interface TrainerCall {
  call_id: string;
  rollout_id: string;
  step: number;
  request: TrainerRequest["request"];
}

interface Prepared {
  task: SweTask;
  agent: AgentConfig;
  reward: RewardConfig;
  policy: PolicyBackend;
  deployment: ConfigTree;
  /** A warm pool to take the sandbox from, instead of starting `deployment`. */
  pool: string | undefined;
  ttlSec: number;
}

interface Live {
  owner: string;
  /** Aborted to cancel the rollout. */
  cancel: AbortController;
  /** Aborted when the rollout ends (ends its trainers' long-polls). */
  ended: AbortController;
  done?: Promise<void>;
}

function invalid(issues: ConfigIssue[]): ServiceError {
  return new ServiceError("invalid_request", issues.map((i) => `${i.where}: ${i.message}`).join("\n"), {
    issues,
  });
}

function rolloutNotFound(id: string): ServiceError {
  return new ServiceError("not_found", `no rollout ${id}`);
}

function newRolloutId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "rol-";
  for (const b of crypto.getRandomValues(new Uint8Array(20))) out += alphabet[b & 31];
  return out;
}

/** The result record of a rollout that never ran (cancelled while queued, interrupted by a restart). */
function resultWithoutRun(
  rolloutId: string,
  instanceId: string,
  status: RolloutStatus,
  failureClass: string,
  error: string,
): Json {
  const now = new Date().toISOString();
  const result = {
    instance_id: instanceId,
    session_id: rolloutId,
    status,
    failure_class: failureClass,
    exit_status: null,
    patch: "",
    patch_strategy: null,
    reward: null,
    score: null,
    resolved: null,
    turns: 0,
    model_calls: 0,
    timings: { provision_s: 0, setup_s: 0, agent_s: 0, patch_s: 0, reward_s: 0, total_s: 0 },
    error,
    started_at: now,
    finished_at: now,
    trajectory: [],
    verl: null,
    verl_error: null,
  };
  return result;
}

function instanceIdOf(rec: RolloutRecord): string {
  const task = (rec.request as { task?: { instance_id?: unknown } } | null)?.task;
  return typeof task?.instance_id === "string" ? task.instance_id : "";
}

export class RolloutService {
  readonly trainer = new TrainerPolicy();
  private readonly store: Store;
  private readonly log: Logger;
  private readonly queue: RolloutQueue;
  private readonly live = new Map<string, Live>();
  private readonly prepared = new Map<string, Prepared>();
  private closed = false;

  private constructor(
    private readonly opts: RolloutServiceOptions,
    private readonly proxy: ModelProxy,
  ) {
    this.store = opts.store;
    this.log = opts.logger.child({ component: "rollouts" });
    this.queue = new RolloutQueue(opts.maxRollouts);
  }

  /** Starts the model proxy the agents call (loopback only) and settles what a previous life left. */
  static async start(opts: RolloutServiceOptions): Promise<RolloutService> {
    const trainerHolder: { svc?: RolloutService } = {};
    const proxy = await startModelProxy({
      host: "127.0.0.1",
      port: 0,
      // Every session gets its policy at open; a function keeps the proxy from mounting `/trainer/*`.
      policy: () => (trainerHolder.svc as RolloutService).trainer,
      requestTimeoutS: opts.modelTimeoutS ?? MODEL_TIMEOUT_S,
    });
    const svc = new RolloutService(opts, proxy);
    trainerHolder.svc = svc;
    if (opts.recover ?? true) await svc.recover();
    return svc;
  }

  get running(): number {
    return this.queue.active;
  }

  get waiting(): number {
    return this.queue.queued;
  }

  /** Validates the request the way run-batch validates its flags; every bad field is named. */
  private prepare(body: Record<string, unknown>): Prepared {
    const issues: ConfigIssue[] = [];
    let task: SweTask | undefined;
    try {
      task = parseTask(body.task);
    } catch (err) {
      if (!(err instanceof TaskFormatError)) throw err;
      issues.push({ where: "task", message: err.message });
    }
    if (task?.repo_dir !== undefined && !isAbsolute(task.repo_dir)) {
      issues.push({
        where: "task.repo_dir",
        message: "must be an absolute path on the service's machine (or send repo_content)",
      });
    }
    for (const [path, source] of Object.entries(task?.repo_files ?? {})) {
      if (!isAbsolute(source)) {
        issues.push({
          where: `task.repo_files.${path}`,
          message: "must be an absolute path on the service's machine",
        });
      }
    }
    const agentTree: Record<string, unknown> = { ...((body.agent as Record<string, unknown>) ?? {}) };
    for (const key of ["max_steps", "max_turns", "swe_agent_timeout"]) {
      if (body[key] !== undefined) agentTree[key] = body[key];
    }
    let agent: AgentConfig | undefined;
    try {
      agent = validateAgentConfig(agentTree, (p) => {
        const top = p.length === 1 && ["max_steps", "max_turns", "swe_agent_timeout"].includes(String(p[0]));
        return top && body[String(p[0])] !== undefined ? String(p[0]) : ["agent", ...p].join(".");
      });
      if (agent.type === "command") {
        issues.push({
          where: "agent.type",
          message:
            'the service runs the built-in "bash" agent only (a command agent would run on its machine)',
        });
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
    }
    const pol = PolicyConfigSchema.safeParse(body.policy);
    if (!pol.success) {
      issues.push(
        ...zodIssues(pol.error, {
          input: body.policy,
          where: (p) => ["policy", ...p].join("."),
          owner: "policy",
        }),
      );
    } else if (pol.data.type === "trainer" && pol.data.port !== undefined) {
      issues.push({ where: "policy.port", message: "the service's trainer routes are /v1/calls/*; no port" });
    } else if (pol.data.type === "replay" && !isAbsolute(pol.data.path)) {
      issues.push({ where: "policy.path", message: "must be an absolute path on the service's machine" });
    }
    const rew = RewardConfig.safeParse(body.reward ?? {});
    if (!rew.success) {
      issues.push(...zodIssues(rew.error, { input: body.reward, where: (p) => ["reward", ...p].join(".") }));
    }
    const pool = typeof body.pool === "string" ? body.pool : undefined;
    let deployment: ConfigTree = (body.deployment as ConfigTree | undefined) ?? {};
    if (body.pool !== undefined && pool === undefined) {
      issues.push({ where: "pool", message: "expected the name of one of the service's warm pools" });
    } else if (pool !== undefined) {
      try {
        // A pool's sandboxes are already running: the task must fit the image they run.
        const config = resolveDeployment(
          this.opts.sandboxes.poolDeployment(pool, body.deployment !== undefined),
          this.opts.defaults,
          this.opts.sandboxes.servableTypes,
        );
        if (task?.image && "image" in config && config.image !== task.image) {
          issues.push({
            where: "pool",
            message: `pool ${JSON.stringify(pool)} runs image ${config.image}; the task needs ${task.image}`,
          });
        }
      } catch (err) {
        if (!(err instanceof ServiceError) && !(err instanceof ConfigError)) throw err;
        issues.push(...(err instanceof ConfigError ? err.issues : (err.issues ?? [])));
      }
    } else {
      if (task?.image) {
        const type = deployment.type ?? this.opts.defaults.tree.type ?? this.opts.defaults.defaultType;
        if (type === "docker" || type === "tencentags") deployment = { ...deployment, image: task.image };
      }
      try {
        resolveDeployment(deployment, this.opts.defaults, this.opts.sandboxes.servableTypes);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        issues.push(...err.issues);
      }
    }
    if (issues.length > 0 || !task || !agent || !pol.success || !rew.success) throw invalid(issues);
    let policy: PolicyBackend;
    if (pol.data.type === "trainer") policy = this.trainer;
    else {
      try {
        // A replayed recording is found by instance id (the rollout's session id is its own id).
        policy = createPolicy(
          pol.data.type === "replay" && pol.data.session_id === undefined
            ? { ...pol.data, session_id: task.instance_id }
            : pol.data,
        );
      } catch (err) {
        throw invalid([{ where: "policy", message: (err as Error).message }]);
      }
    }
    const ttlSec = Math.min(
      this.opts.maxTtlSec,
      PROVISION_TIMEOUT_S + agent.swe_agent_timeout + rew.data.eval_timeout + LEASE_MARGIN_S,
    );
    return { task, agent, reward: rew.data, policy, deployment, pool, ttlSec };
  }

  async create(owner: string, body: unknown, idempotencyKey?: string): Promise<RolloutRecord> {
    if (this.closed) throw new ServiceError("unavailable", "the service is shutting down");
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw invalid([{ where: "body", message: "expected a JSON object" }]);
    }
    const raw = body as Record<string, unknown>;
    const known = [
      "task",
      "agent",
      "policy",
      "reward",
      "deployment",
      "pool",
      "max_steps",
      "max_turns",
      "swe_agent_timeout",
      "metadata",
    ];
    const unknown = Object.keys(raw).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
      throw invalid(
        unknown.map((k) => ({ where: k, message: `unknown key; accepted: ${known.join(", ")}` })),
      );
    }
    const metadata = raw.metadata ?? {};
    if (
      typeof metadata !== "object" ||
      metadata === null ||
      Array.isArray(metadata) ||
      Object.values(metadata).some((v) => typeof v !== "string")
    ) {
      throw invalid([{ where: "metadata", message: "expected an object of strings" }]);
    }
    const prepared = this.prepare(raw);
    const now = Date.now();
    const rec = {
      id: newRolloutId(),
      owner,
      state: "queued" as const,
      request: withoutSecrets(raw),
      result: null,
      sandbox_id: null,
      metadata: metadata as Record<string, string>,
      error: null,
      created_at: now,
      started_at: null,
      finished_at: null,
    };
    let stored: RolloutRecord;
    if (idempotencyKey === undefined) stored = await this.store.insertRollout(rec);
    else {
      const hash = requestHash(withoutSecrets(raw));
      const once = await this.store.insertRolloutOnce(rec, {
        owner,
        key: idempotencyKey,
        kind: "rollout",
        request_hash: hash,
        created_at: now,
      });
      if (!once.created) {
        if (once.idempotency.request_hash !== hash || once.idempotency.kind !== "rollout") {
          throw invalid([
            { where: "Idempotency-Key", message: "this key was used with a different request body" },
          ]);
        }
        await prepared.policy.close?.().catch(() => undefined);
        if (!once.record) throw rolloutNotFound(once.idempotency.resource_id);
        return once.record;
      }
      stored = once.record as RolloutRecord;
    }
    this.prepared.set(stored.id, prepared);
    this.live.set(stored.id, { owner, cancel: new AbortController(), ended: new AbortController() });
    this.queue.push(stored.id, () => this.run(stored.id));
    this.log.info({ rollout: stored.id, instance: prepared.task.instance_id }, "rollout queued");
    return stored;
  }

  private async run(id: string): Promise<void> {
    const live = this.live.get(id);
    const prep = this.prepared.get(id);
    this.prepared.delete(id);
    if (!live || !prep) return;
    let finish: () => void = () => undefined;
    live.done = new Promise<void>((r) => {
      finish = r;
    });
    let dep: RolloutSandboxDeployment | undefined;
    try {
      if (live.cancel.signal.aborted) return;
      await this.store.updateRollout(id, { state: "running", started_at: Date.now() });
      const result = await runRollout({
        task: prep.task,
        sessionId: id,
        createDeployment: () => {
          dep = new RolloutSandboxDeployment({
            sandboxes: this.opts.sandboxes,
            owner: live.owner,
            rolloutId: id,
            deployment: prep.deployment,
            pool: prep.pool,
            ttlSec: prep.ttlSec,
            onSandbox: (sandboxId) =>
              void this.store.updateRollout(id, { sandbox_id: sandboxId }).catch(() => undefined),
          });
          return dep;
        },
        proxy: {
          openSession: (sid, o) => this.proxy.openSession(sid, { ...o, policy: prep.policy }),
        },
        agent: prep.agent,
        reward: prep.reward,
        provisionTimeout: PROVISION_TIMEOUT_S,
        signal: live.cancel.signal,
      });
      await this.finish(id, result, dep?.id);
    } catch (err) {
      // runRollout classifies its own failures; anything here is the service's (the store, a bug).
      this.log.error({ rollout: id, err }, "rollout crashed");
      await this.store
        .updateRollout(id, {
          state: "failed",
          finished_at: Date.now(),
          error: { class: INFRASTRUCTURE_FAILURE, message: (err as Error).message },
          result: resultWithoutRun(
            id,
            prep.task.instance_id,
            "failed",
            INFRASTRUCTURE_FAILURE,
            (err as Error).message,
          ),
        })
        .catch(() => undefined);
    } finally {
      if (dep?.id) await this.opts.sandboxes.stop(dep.id).catch(() => undefined);
      if (prep.policy !== this.trainer) await prep.policy.close?.().catch(() => undefined);
      live.ended.abort();
      this.live.delete(id);
      finish();
    }
  }

  private async finish(id: string, rolled: RolloutResult, sandboxId: string | undefined): Promise<void> {
    // Cut short by the service's own shutdown, not by its owner: an infrastructure failure, as after a crash.
    const result: RolloutResult =
      this.closed && rolled.status === "cancelled"
        ? {
            ...rolled,
            status: "failed",
            failure_class: INFRASTRUCTURE_FAILURE as RolloutResult["failure_class"],
            error: "the service shut down while this rollout ran",
          }
        : rolled;
    const state: RolloutState = result.status;
    await this.store.updateRollout(id, {
      state,
      finished_at: Date.now(),
      result: result as unknown as Json,
      ...(sandboxId ? { sandbox_id: sandboxId } : {}),
      error:
        state === "completed"
          ? null
          : { class: result.failure_class ?? "unknown", message: result.error ?? result.failure_class ?? "" },
    });
    this.log.info(
      { rollout: id, state, failure_class: result.failure_class, score: result.score },
      "rollout finished",
    );
  }

  async get(owner: string, id: string): Promise<RolloutRecord> {
    const rec = await this.store.getRollout(id);
    if (!rec || rec.owner !== owner) throw rolloutNotFound(id);
    return rec;
  }

  list(owner: string, req: ListRolloutsRequest): Promise<Page<RolloutRecord>> {
    return this.store.listRollouts({
      owner,
      ...(req.state ? { states: req.state } : {}),
      ...(req.metadata ? { metadata: req.metadata } : {}),
      ...(req.limit !== undefined ? { limit: req.limit } : {}),
      ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
    });
  }

  /** Cancels a rollout (its sandbox is stopped) and returns the record; a finished one is returned as it is. */
  async cancel(owner: string, id: string): Promise<RolloutRecord> {
    const rec = await this.get(owner, id);
    const live = this.live.get(id);
    if (!live) return rec;
    live.cancel.abort(new Error("cancelled over the API"));
    if (this.queue.withdraw(id)) {
      const prep = this.prepared.get(id);
      this.prepared.delete(id);
      if (prep && prep.policy !== this.trainer) await prep.policy.close?.().catch(() => undefined);
      live.ended.abort();
      this.live.delete(id);
      const updated = await this.store.updateRollout(id, {
        state: "cancelled",
        finished_at: Date.now(),
        error: { class: "cancelled", message: "cancelled before it started" },
        result: resultWithoutRun(
          id,
          instanceIdOf(rec),
          "cancelled",
          "cancelled",
          "cancelled before it started",
        ),
      });
      return updated ?? rec;
    }
    if (live.done) {
      await Promise.race([live.done, new Promise((r) => setTimeout(r, CANCEL_WAIT_MS).unref())]);
    }
    return this.get(owner, id);
  }

  /**
   * The next model call of one of `owner`'s rollouts (or of `rolloutId`), or null when none came within
   * `timeoutMs` or the rollout ended.
   */
  async nextCall(
    owner: string,
    opts: { rolloutId?: string; timeoutMs: number; signal: AbortSignal },
  ): Promise<TrainerCall | null> {
    const signals = [opts.signal];
    if (opts.rolloutId !== undefined) {
      const rec = await this.get(owner, opts.rolloutId);
      const live = this.live.get(rec.id);
      if (!live) return null;
      signals.push(live.ended.signal);
    }
    const signal = AbortSignal.any(signals);
    try {
      const item = await this.trainer.getRequest({
        signal,
        timeoutMs: opts.timeoutMs,
        ...(opts.rolloutId !== undefined ? { sessionId: opts.rolloutId } : {}),
        accept: (it) => this.live.get(it.session_id)?.owner === owner,
      });
      if (!item) return null;
      if (opts.signal.aborted) {
        this.trainer.release(item.request_id);
        return null;
      }
      return {
        call_id: item.request_id,
        rollout_id: item.session_id,
        step: item.step,
        request: item.request,
      };
    } catch (err) {
      if (opts.signal.aborted) throw err;
      return null;
    }
  }

  /** Puts a handed-out call back in line (its HTTP poller vanished). */
  release(callId: string): void {
    this.trainer.release(callId);
  }

  /** Runs `send` on a pending call of one of `owner`'s rollouts; `not_found` otherwise (also other keys'). */
  private onOwnCall(owner: string, callId: string, send: () => boolean): void {
    const rollout = this.trainer.sessionOf(callId);
    if (rollout === undefined || this.live.get(rollout)?.owner !== owner || !send()) {
      throw new ServiceError(
        "not_found",
        `no pending model call ${callId} (already answered, timed out, or its rollout ended)`,
      );
    }
  }

  answer(owner: string, callId: string, response: PolicyResponse): void {
    this.onOwnCall(owner, callId, () => this.trainer.sendResponse(callId, response));
  }

  fail(owner: string, callId: string, error: TrainerError): void {
    this.onOwnCall(owner, callId, () => this.trainer.sendError(callId, error));
  }

  /** Rollouts a previous life of the service left queued or running: failed, their sandboxes stopped. */
  private async recover(): Promise<void> {
    const stale: RolloutRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listRollouts({
        states: ["queued", "running"],
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      stale.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    for (const rec of stale) {
      const message =
        rec.state === "running"
          ? "the service stopped while this rollout ran"
          : "the service stopped before this rollout started";
      if (rec.sandbox_id) {
        await this.opts.sandboxes.stop(rec.sandbox_id).catch((err: Error) => {
          this.log.warn({ rollout: rec.id, sandbox: rec.sandbox_id, error: err.message }, "could not stop");
        });
      }
      await this.store.updateRollout(rec.id, {
        state: "failed",
        finished_at: Date.now(),
        error: { class: INFRASTRUCTURE_FAILURE, message },
        result: resultWithoutRun(rec.id, instanceIdOf(rec), "failed", INFRASTRUCTURE_FAILURE, message),
      });
    }
    if (stale.length > 0) this.log.warn({ rollouts: stale.length }, "failed rollouts a restart interrupted");
  }

  /** Cancels everything queued and running (their sandboxes stop) and closes the model proxy. */
  async close(): Promise<void> {
    this.closed = true;
    const ids = [...this.live.keys()];
    for (const id of ids) {
      if (this.queue.withdraw(id)) {
        // Left queued in the store: the next start fails it as interrupted.
        const live = this.live.get(id);
        live?.ended.abort();
        this.live.delete(id);
      }
    }
    const running = [...this.live.values()];
    for (const live of running) live.cancel.abort(new Error("the service is shutting down"));
    await Promise.allSettled(running.map((l) => l.done));
    await this.trainer.close();
    await this.proxy.close();
  }
}
