/**
 * The batch runner: every selected instance through `runRollout`, `num_workers` at a time, all sharing one
 * ModelProxy. Results are appended to results.jsonl as they finish (resume skips those already there), every
 * model call goes to model_calls.jsonl (replayable with `policy.type=replay`), and a summary table ends the
 * run. An abort (SIGINT) stops picking new instances and cancels the running ones, which kill their
 * commands and stop their sandboxes before the process exits.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getDeployment } from "../../deployment/config.js";
import type { Deployment } from "../../deployment/deployment.js";
import { registerDeployment, unregisterDeployment } from "../../deployment/registry.js";
import type { AgentConfig } from "../agents/config.js";
import { TrainerPolicy } from "../policy/trainer.js";
import { startModelProxy } from "../proxy/model-proxy.js";
import type { RewardConfig } from "../reward/reward.js";
import { type RolloutResult, runRollout } from "../rollout.js";
import { withDeadline } from "../tasks/sandbox.js";
import type { SweTask } from "../tasks/task.js";
import type { PolicyBackend } from "../types.js";
import type { BatchOptions } from "./config.js";
import { Progress, type ProgressMode } from "./progress.js";
import { finishedResults, ResultsWriter, readResults } from "./results.js";
import { type BatchSummary, renderSummary, summarize } from "./summary.js";

export interface RunBatchInput {
  tasks: SweTask[];
  /** The `instances.deployment` tree; a task's `image` replaces `image` for container deployments. */
  deployment: Record<string, unknown>;
  policy: PolicyBackend;
  agent: AgentConfig;
  reward: RewardConfig;
  options: BatchOptions;
  signal?: AbortSignal;
  /** Progress goes here (default stderr); the summary table goes to `stdout`. */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  stdout?: NodeJS.WritableStream;
  /** For tests: make deployments some other way. */
  createDeployment?: (task: SweTask) => Deployment;
  /** Port of the run's proxy (`--policy.port` for the trainer policy); default any free port. */
  proxyPort?: number;
}

export interface RunBatchOutput {
  /** One result per selected instance, in task order: earlier runs' for skipped ones. */
  results: RolloutResult[];
  /** Instances run this time. */
  ran: string[];
  skipped: string[];
  summary: BatchSummary;
  paths: { results: string; model_calls: string; summary: string };
}

const CONTAINER_TYPES = new Set(["docker", "tencentags"]);
/** Within the registry's own 30 s cleanup bound. */
const DRAIN_DEADLINE_MS = 25_000;

/**
 * The task's deployment config: the run's, with the task's own image for container deployments. Through a
 * control plane the image goes to the backend config it sends (`deployment.image`), unless that names a
 * type without images (the service's default type, when none is named, is expected to be a container one).
 */
export function deploymentConfigFor(base: Record<string, unknown>, task: SweTask): Record<string, unknown> {
  const type = base.type ?? "local";
  if (task.image && CONTAINER_TYPES.has(String(type))) return { ...base, type, image: task.image };
  if (task.image && type === "controlplane") {
    const backend = (base.deployment ?? {}) as Record<string, unknown>;
    if (backend.type === undefined || CONTAINER_TYPES.has(String(backend.type))) {
      return { ...base, type, deployment: { ...backend, image: task.image } };
    }
  }
  return { ...base, type };
}

function progressMode(option: BatchOptions["progress"], out: { isTTY?: boolean }): ProgressMode {
  if (option !== "auto") return option;
  return out.isTTY ? "bar" : "lines";
}

export async function runBatch(input: RunBatchInput): Promise<RunBatchOutput> {
  const { options } = input;
  const started = performance.now();
  const stderr = input.stderr ?? process.stderr;
  const stdout = input.stdout ?? process.stdout;
  await mkdir(options.output_dir, { recursive: true });
  const paths = {
    results: join(options.output_dir, "results.jsonl"),
    model_calls: join(options.output_dir, "model_calls.jsonl"),
    summary: join(options.output_dir, "summary.json"),
  };
  const previous = options.redo_existing
    ? new Map<string, RolloutResult>()
    : finishedResults(await readResults(paths.results));
  const todo = input.tasks.filter((t) => !previous.has(t.instance_id));
  const skipped = input.tasks.filter((t) => previous.has(t.instance_id)).map((t) => t.instance_id);
  const writer = new ResultsWriter(paths.results);
  const progress = new Progress(
    input.tasks.length,
    skipped.length,
    progressMode(options.progress, stderr),
    stderr,
  );
  const fresh = new Map<string, RolloutResult>();
  const createDeployment =
    input.createDeployment ?? ((task: SweTask) => getDeployment(deploymentConfigFor(input.deployment, task)));

  const proxy = await startModelProxy({
    port: input.proxyPort ?? 0,
    policy: input.policy,
    record: paths.model_calls,
    requestTimeoutS: options.model_timeout,
    maxSteps: input.agent.max_steps,
  });
  if (input.policy instanceof TrainerPolicy) {
    // The trainer needs to know where to poll; one parsable line on stdout, like `swerex proxy`'s.
    stdout.write(`TRAINER_URL=${proxy.url}\n`);
    stderr.write(
      `run-batch: trainer routes at ${proxy.url}: GET /trainer/requests?wait=30, POST /trainer/responses/{request_id}\n`,
    );
  }
  let next = 0;
  const inflight = new Set<Promise<unknown>>();
  // On SIGINT/SIGTERM the dispatcher aborts `signal` and then stops everything registered before it exits:
  // this entry holds the exit until the cancelled rollouts have killed their commands and stopped their
  // sandboxes (containers register themselves as well, and are stopped regardless) AND their `cancelled`
  // lines and summary.json are written: the whole batch's end, bounded by the drain deadline.
  let batchEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    batchEnded = resolve;
  });
  const drain = {
    stop: () =>
      withDeadline(ended, DRAIN_DEADLINE_MS, "cancelled rollouts").then(
        () => undefined,
        () => undefined,
      ),
  };
  registerDeployment(drain);
  const worker = async () => {
    for (;;) {
      if (input.signal?.aborted) return;
      const task = todo[next++];
      if (!task) return;
      progress.onStart();
      const rollout = runRollout({
        task,
        createDeployment,
        proxy,
        agent: input.agent,
        reward: input.reward,
        provisionTimeout: options.provision_timeout,
        ...(input.signal ? { signal: input.signal } : {}),
      });
      inflight.add(rollout);
      try {
        const result = await rollout;
        fresh.set(task.instance_id, result);
        await writer.append(result);
        progress.onFinish(result);
      } finally {
        inflight.delete(rollout);
      }
    }
  };
  try {
    try {
      await Promise.all(
        Array.from({ length: Math.min(options.num_workers, Math.max(1, todo.length)) }, worker),
      );
    } finally {
      progress.close();
      await proxy.close();
    }
    const results = input.tasks
      .map((t) => fresh.get(t.instance_id) ?? previous.get(t.instance_id))
      .filter((r): r is RolloutResult => r !== undefined);
    const summary = summarize(results, (performance.now() - started) / 1000);
    await writeFile(paths.summary, `${JSON.stringify(summary, null, 2)}\n`);
    stdout.write(`\n${renderSummary(results, summary)}`);
    stdout.write(`results: ${paths.results}\nmodel calls: ${paths.model_calls}\n`);
    return { results, ran: [...fresh.keys()], skipped, summary, paths };
  } finally {
    batchEnded();
    unregisterDeployment(drain);
  }
}
