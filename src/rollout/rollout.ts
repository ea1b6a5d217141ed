/**
 * One rollout: provision a sandbox, set the task's repository up, run the agent against a proxy session under
 * the whole-rollout deadline (`swe_agent_timeout`), extract the patch, compute the reward, and stop the sandbox
 * whatever happened. Each stage is timed and a failure is classified, so a trainer can tell an infrastructure
 * error (mask it) from an agent that ran out of turns (reward 0).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Deployment } from "../deployment/deployment.js";
import type { Runtime } from "../runtime/runtime.js";
import { runBashAgent } from "./agents/bash-agent.js";
import { runCommandAgent } from "./agents/command-agent.js";
import { type AgentConfig, withOverrides } from "./agents/config.js";
import type { AgentExitStatus, AgentRunResult } from "./agents/result.js";
import { toVerlTrajectory, type VerlTrajectory } from "./data/verl.js";
import { type ExtractedPatch, extractPatch } from "./patch/extract.js";
import { computeReward, type Reward, type RewardConfig } from "./reward/reward.js";
import { withDeadline } from "./tasks/sandbox.js";
import { setupTaskRepo, type TaskCheckout, teardownTaskRepo } from "./tasks/setup.js";
import type { SweTask } from "./tasks/task.js";
import type { ModelCallRecord } from "./types.js";

/** What the rollout needs of a proxy session (F1's ProxySession). */
export interface RolloutSession {
  readonly id: string;
  readonly baseUrl: string;
  readonly limitReached: boolean;
  records(): ModelCallRecord[];
  close(): Promise<void>;
}

export interface RolloutProxy {
  openSession(id: string, opts: { maxSteps: number; metadata?: Record<string, unknown> }): RolloutSession;
}

export type RolloutStatus = "completed" | "failed" | "cancelled";

export type FailureClass =
  | "provision"
  | "setup"
  | "agent_timeout"
  | "max_turns"
  | "max_steps"
  | "format_error"
  | "model_error"
  | "model_unavailable"
  | "agent_error"
  | "patch"
  | "eval"
  | "cancelled";

export interface RolloutTimings {
  provision_s: number;
  setup_s: number;
  agent_s: number;
  patch_s: number;
  reward_s: number;
  total_s: number;
}

export interface RolloutResult {
  instance_id: string;
  session_id: string;
  status: RolloutStatus;
  /** Null when the agent submitted and the reward was computed. */
  failure_class: FailureClass | null;
  exit_status: AgentExitStatus | null;
  patch: string;
  patch_strategy: ExtractedPatch["strategy"];
  reward: Reward | null;
  /** `reward.value`, or null when no reward was computed (a trainer should mask the sample). */
  score: number | null;
  resolved: boolean | null;
  turns: number;
  model_calls: number;
  timings: RolloutTimings;
  error: string | null;
  started_at: string;
  finished_at: string;
  trajectory: ModelCallRecord[];
  /** verl's `AgentLoopOutput` fields, when the policy gave token ids. */
  verl: VerlTrajectory | null;
  verl_error: string | null;
  /** The end of an agent command's output. */
  agent_output_tail?: string;
}

export interface RolloutOptions {
  task: SweTask;
  /** Makes the (not yet started) deployment for this task. */
  createDeployment: (task: SweTask) => Deployment;
  proxy: RolloutProxy;
  agent: AgentConfig;
  reward: RewardConfig;
  /** Proxy session id; default the instance id (recordings replay by session id). */
  sessionId?: string;
  /** Aborting cancels the rollout (SIGINT); the sandbox is still stopped. */
  signal?: AbortSignal;
  /** Seconds for `deployment.start()` (default 1200; the deployment has its own startup timeout too). */
  provisionTimeout?: number;
  /** Seconds for `deployment.stop()` before we stop waiting (default 120). */
  stopTimeout?: number;
  /** Called at each stage, for progress displays. */
  onStage?: (stage: "provision" | "setup" | "agent" | "patch" | "reward" | "stop") => void;
  /** SWE-agent's `env.deployment` for command agents. */
  commandAgentDeployment?: Record<string, unknown>;
}

class StageError extends Error {
  readonly failure: FailureClass;
  constructor(failure: FailureClass, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.failure = failure;
  }
}

/**
 * Failures that say nothing about the policy (the sandbox, the harness, the model server or the evaluation
 * broke): the rollout is `failed` and its `score` is null, so a trainer masks the sample instead of learning a
 * 0 from it. `max_turns`, `max_steps`, `format_error` and a 4xx `model_error` (e.g. the context grew too long)
 * are the policy's own doing and keep the reward of the patch it left.
 */
export const INFRASTRUCTURE_FAILURES: ReadonlySet<FailureClass> = new Set<FailureClass>([
  "provision",
  "setup",
  "agent_timeout",
  "model_unavailable",
  "agent_error",
  "patch",
  "eval",
  "cancelled",
]);

/** Statuses of a failed model call that mean the model server, not the policy, failed. */
const UNAVAILABLE_STATUS_MIN = 500;

/** The agent's last model call failed because the policy backend was unreachable or broken (5xx). */
function endedOnUnavailableModel(trajectory: ModelCallRecord[]): string | null {
  const last = trajectory[trajectory.length - 1];
  const e = last?.error;
  if (!e || (e.status ?? 0) < UNAVAILABLE_STATUS_MIN) return null;
  return `the model was unavailable: ${e.code ?? e.type} (${e.status}): ${e.message}`;
}

const EXIT_FAILURES: Record<AgentExitStatus, FailureClass | null> = {
  submitted: null,
  max_turns: "max_turns",
  max_steps: "max_steps",
  timeout: "agent_timeout",
  format_error: "format_error",
  model_error: "model_error",
  agent_error: "agent_error",
  cancelled: "cancelled",
};

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

async function stage<T>(failure: FailureClass, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StageError(failure, err);
  }
}

/**
 * Removes the task checkout and stops the sandbox, each under a deadline; never throws. Returns why stopping
 * failed, if it did (the checkout must go even for `local`, where stopping the deployment leaves files behind).
 */
async function releaseSandbox(
  deployment: Deployment,
  checkout: TaskCheckout | undefined,
  stopTimeoutS: number,
): Promise<string | null> {
  if (checkout) {
    await withDeadline(teardownTaskRepo(deployment.runtime, checkout), 60_000, "cleanup").catch(
      () => undefined,
    );
  }
  return withDeadline(deployment.stop(), stopTimeoutS * 1000, "deployment stop").then(
    () => null,
    (err: Error) => `stopping the sandbox: ${err.message}`,
  );
}

/**
 * `reward.fresh_sandbox`: grades the patch in a second sandbox made like the first, on a clean checkout of the
 * base commit, so nothing the agent left outside its patch (ignored files, processes, files outside the
 * repository) can reach the tests. The second sandbox is always stopped.
 */
async function rewardInFreshSandbox(opts: RolloutOptions, patch: string): Promise<Reward> {
  const dep = opts.createDeployment(opts.task);
  let checkout: TaskCheckout | undefined;
  try {
    await stage("provision", () =>
      withDeadline(
        dep.start(opts.signal ? { signal: opts.signal } : {}),
        (opts.provisionTimeout ?? 1200) * 1000,
        "evaluation sandbox start",
      ),
    );
    const co = await stage("setup", () => setupTaskRepo(dep.runtime, opts.task));
    checkout = co;
    return await stage("eval", () =>
      computeReward(opts.reward, {
        runtime: dep.runtime,
        task: opts.task,
        patch,
        workdir: co.workdir,
        baseCommit: co.baseCommit,
      }),
    );
  } finally {
    await releaseSandbox(dep, checkout, opts.stopTimeout ?? 120);
  }
}

/** Runs the agent until it ends or the deadline passes; past the deadline it is aborted and not waited for long. */
async function runAgentWithDeadline(
  opts: RolloutOptions,
  agent: AgentConfig,
  runtime: Runtime,
  checkout: TaskCheckout,
  session: RolloutSession,
  outputDir: string,
): Promise<AgentRunResult> {
  const ac = new AbortController();
  const outer = opts.signal;
  const onOuter = () => ac.abort(outer?.reason ?? new Error("cancelled"));
  outer?.addEventListener("abort", onOuter, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(`swe_agent_timeout (${agent.swe_agent_timeout} s) reached`));
  }, agent.swe_agent_timeout * 1000);
  const run =
    agent.type === "command"
      ? runCommandAgent({
          task: opts.task,
          workdir: checkout.workdir,
          baseUrl: session.baseUrl,
          sessionId: session.id,
          config: agent,
          outputDir,
          signal: ac.signal,
          ...(opts.commandAgentDeployment ? { deployment: opts.commandAgentDeployment } : {}),
        })
      : runBashAgent({
          runtime,
          task: opts.task,
          workdir: checkout.workdir,
          baseUrl: session.baseUrl,
          config: agent,
          signal: ac.signal,
        });
  // After an abort the agent gets kill_timeout (+5 s) to wind down; a command still running in the sandbox
  // is ended by stopping the sandbox, so we do not wait for it.
  const aborted = new Promise<AgentRunResult>((resolve) => {
    ac.signal.addEventListener(
      "abort",
      () => {
        setTimeout(
          () => resolve({ exit_status: "cancelled", turns: 0, error: "the agent did not stop after abort" }),
          (agent.kill_timeout + 5) * 1000,
        ).unref();
      },
      { once: true },
    );
  });
  try {
    const result = await Promise.race([run, aborted]);
    if (timedOut)
      return {
        ...result,
        exit_status: "timeout",
        error: `swe_agent_timeout (${agent.swe_agent_timeout} s) reached`,
      };
    return result;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
  }
}

export async function runRollout(opts: RolloutOptions): Promise<RolloutResult> {
  const t0 = performance.now();
  const started_at = new Date().toISOString();
  const task = opts.task;
  const agent = withOverrides(opts.agent, task.agent_overrides);
  const sessionId = opts.sessionId ?? task.instance_id;
  const timings: RolloutTimings = {
    provision_s: 0,
    setup_s: 0,
    agent_s: 0,
    patch_s: 0,
    reward_s: 0,
    total_s: 0,
  };
  const timed = async <T>(key: keyof RolloutTimings, fn: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      timings[key] = seconds(performance.now() - s);
    }
  };

  let deployment: Deployment | undefined;
  let session: RolloutSession | undefined;
  let checkout: TaskCheckout | undefined;
  let outputDir: string | undefined;
  let agentResult: AgentRunResult | undefined;
  let extracted: ExtractedPatch | undefined;
  let reward: Reward | null = null;
  let failure: FailureClass | null = null;
  let error: string | null = null;
  let status: RolloutStatus = "completed";

  try {
    if (opts.signal?.aborted) throw new StageError("cancelled", "cancelled before start");
    opts.onStage?.("provision");
    const dep = opts.createDeployment(task);
    deployment = dep;
    await timed("provision_s", () =>
      stage("provision", () =>
        withDeadline(
          dep.start(opts.signal ? { signal: opts.signal } : {}),
          (opts.provisionTimeout ?? 1200) * 1000,
          "deployment start",
        ),
      ),
    );
    const runtime = dep.runtime;
    opts.onStage?.("setup");
    const co = await timed("setup_s", () => stage("setup", () => setupTaskRepo(runtime, task)));
    checkout = co;
    if (opts.signal?.aborted) throw new StageError("cancelled", "cancelled");

    opts.onStage?.("agent");
    const s = opts.proxy.openSession(sessionId, {
      maxSteps: agent.max_steps,
      metadata: { instance_id: task.instance_id },
    });
    session = s;
    if (agent.type === "command") outputDir = await mkdtemp(join(tmpdir(), "swerex-agent-"));
    const out = outputDir ?? "";
    agentResult = await timed("agent_s", () => runAgentWithDeadline(opts, agent, runtime, co, s, out));
    if (s.limitReached && agentResult.exit_status !== "timeout" && agentResult.exit_status !== "cancelled") {
      agentResult = { ...agentResult, exit_status: "max_steps" };
    }
    failure = EXIT_FAILURES[agentResult.exit_status];
    if (agentResult.error) error = agentResult.error;
    const unavailable =
      agentResult.exit_status === "timeout" || agentResult.exit_status === "cancelled"
        ? null
        : endedOnUnavailableModel(s.records());
    if (unavailable) {
      // Whatever the agent made of it (gave up, crashed, or submitted a half-done patch), the model server broke.
      failure = "model_unavailable";
      error = unavailable;
    }
    if (agentResult.exit_status === "timeout" || agentResult.exit_status === "cancelled") {
      // The brief's rule: past the deadline the agent is killed and the sandbox stopped; no reward to trust.
      status = agentResult.exit_status === "timeout" ? "failed" : "cancelled";
    } else {
      opts.onStage?.("patch");
      const ar = agentResult;
      extracted = await timed("patch_s", () =>
        stage("patch", () =>
          extractPatch(runtime, {
            workdir: co.workdir,
            baseCommit: co.baseCommit,
            ...(ar.readPatchFile ? { readPatchFile: ar.readPatchFile } : {}),
          }),
        ),
      );
      opts.onStage?.("reward");
      const patch = extracted.patch;
      reward = await timed("reward_s", () =>
        opts.reward.fresh_sandbox && opts.reward.type === "swebench"
          ? rewardInFreshSandbox(opts, patch)
          : stage("eval", () =>
              computeReward(opts.reward, {
                runtime,
                task,
                patch,
                workdir: co.workdir,
                baseCommit: co.baseCommit,
              }),
            ),
      );
      if (
        reward.type === "swebench" &&
        (reward.status === "eval_error" ||
          reward.status === "eval_timeout" ||
          reward.status === "test_patch_apply_failed")
      ) {
        failure ??= "eval";
        error ??= `evaluation: ${reward.status}`;
      }
    }
  } catch (err) {
    const cls = err instanceof StageError ? err.failure : "agent_error";
    failure = opts.signal?.aborted ? "cancelled" : cls;
    status = failure === "cancelled" ? "cancelled" : "failed";
    error = err instanceof Error ? err.message : String(err);
    reward = null;
  } finally {
    opts.onStage?.("stop");
    await session?.close().catch(() => undefined);
    if (deployment) {
      const stopError = await releaseSandbox(deployment, checkout, opts.stopTimeout ?? 120);
      error ??= stopError;
    }
    if (outputDir) await rm(outputDir, { recursive: true, force: true }).catch(() => undefined);
  }

  const trajectory = session?.records() ?? [];
  const verl = toVerlTrajectory(trajectory);
  timings.total_s = seconds(performance.now() - t0);
  const infrastructure = failure !== null && INFRASTRUCTURE_FAILURES.has(failure);
  if (infrastructure && status === "completed") status = "failed";
  return {
    instance_id: task.instance_id,
    session_id: sessionId,
    status,
    failure_class: failure,
    exit_status: agentResult?.exit_status ?? null,
    patch: extracted?.patch ?? "",
    patch_strategy: extracted?.strategy ?? null,
    reward,
    score: reward && !infrastructure ? reward.value : null,
    resolved: reward?.type === "swebench" ? reward.resolved : null,
    turns: agentResult ? (agent.type === "bash" ? agentResult.turns : trajectory.length) : 0,
    model_calls: trajectory.length,
    timings,
    error,
    started_at,
    finished_at: new Date().toISOString(),
    trajectory,
    verl: verl.ok ? verl.trajectory : null,
    verl_error: verl.ok ? null : verl.reason,
    ...(agentResult?.output_tail ? { agent_output_tail: agentResult.output_tail } : {}),
  };
}
