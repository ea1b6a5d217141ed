/**
 * Rollouts through the service with an HTTP trainer (issue 9): `swerex serve` (local deployment) runs the
 * example tasks, and a trainer in this process answers every model call over `/v1/calls/next` +
 * `POST /v1/calls/{id}` with the recorded gold trajectory's replies. Three phases, same run:
 *   (1) baseline: the same rollouts in-process (`runBatch`, TrainerPolicy answered by getRequest/sendResponse);
 *   (2) the same number through the service and the HTTP trainer;
 *   (3) `concurrency` (64) rollouts at once through the service.
 * Reported: rollouts per minute; service CPU per model call; per model call, the time the agent waited for its
 * answer (the proxy's `policy_ms`: the trainer answers at once, so this is the trainer path itself) and its
 * p50 added by HTTP = (2) - (1); calls that timed out, rollouts that did not complete.
 *
 * `npm run bench -- trainer [--quick]`. JSON goes to bench/results/trainer-<time>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentConfigSchema } from "../src/rollout/agents/config.js";
import { BatchOptionsSchema } from "../src/rollout/batch/config.js";
import { runBatch } from "../src/rollout/batch/run-batch.js";
import { TrainerPolicy } from "../src/rollout/policy/trainer.js";
import { RewardConfig } from "../src/rollout/reward/reward.js";
import type { RolloutResult } from "../src/rollout/rollout.js";
import { loadTasks } from "../src/rollout/tasks/load.js";
import type { SweTask } from "../src/rollout/tasks/task.js";
import { cpuMs, spawnReady, stop } from "./lib/proc.js";
import { type LatencyStats, latencyStats, roundTo } from "./lib/stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { added_p50_ms: 2, timeouts_at_64: 0 };
const KEY = "bench-trainer-key";
/** Every phase must end within this (a stuck rollout fails the benchmark instead of hanging it). */
const PHASE_DEADLINE_MS = 20 * 60_000;
const POLL_S = 5;

interface PhaseResult {
  phase: string;
  rollouts: number;
  concurrency: number;
  completed: number;
  resolved: number;
  model_calls: number;
  timed_out_calls: number;
  wall_s: number;
  rollouts_per_min: number;
  /** The agent's wait for each answer (proxy `policy_ms`). */
  answer_wait: LatencyStats;
  /** CPU of the `swerex serve` process per model call (service phases only). */
  service_cpu_ms_per_call: number | null;
  /** Rollouts by failure class (null = none). */
  failure_classes: Record<string, number>;
}

/** Gold replies by instance id, in step order. */
async function goldReplies(): Promise<Map<string, string[]>> {
  const rows = (await readFile(join(ROOT, "examples/trajectories.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { session_id: string; step: number; response: { content: string } });
  const out = new Map<string, string[]>();
  for (const r of rows.sort((a, b) => a.step - b.step)) {
    out.set(r.session_id, [...(out.get(r.session_id) ?? []), r.response.content]);
  }
  return out;
}

/** `n` tasks cycling over the examples, each with its own instance id (`<id>--<k>`). */
function cycle(tasks: SweTask[], n: number): SweTask[] {
  return Array.from({ length: n }, (_, k) => {
    const t = tasks[k % tasks.length] as SweTask;
    return { ...t, instance_id: `${t.instance_id}--${k}` };
  });
}

const goldId = (instanceId: string) => instanceId.replace(/--\d+$/, "");

function summarize(
  phase: string,
  results: RolloutResult[],
  concurrency: number,
  wallMs: number,
  serviceCpuMs: number | null,
): PhaseResult {
  const calls = results.flatMap((r) => r.trajectory);
  const waits = calls.filter((c) => c.response).map((c) => c.timings?.policy_ms ?? Number.NaN);
  return {
    phase,
    rollouts: results.length,
    concurrency,
    completed: results.filter((r) => r.status === "completed").length,
    resolved: results.filter((r) => r.resolved === true).length,
    model_calls: calls.length,
    timed_out_calls: calls.filter((c) => c.error?.code === "request_timeout").length,
    wall_s: roundTo(wallMs / 1000, 2),
    rollouts_per_min: roundTo((results.length / wallMs) * 60_000, 2),
    answer_wait: latencyStats(waits),
    service_cpu_ms_per_call:
      serviceCpuMs === null ? null : roundTo(serviceCpuMs / Math.max(1, calls.length), 2),
    failure_classes: Object.fromEntries(
      [...new Set(results.map((r) => String(r.failure_class)))].map((c) => [
        c,
        results.filter((r) => String(r.failure_class) === c).length,
      ]),
    ),
  };
}

/** (1) In-process: runBatch with a TrainerPolicy answered by getRequest/sendResponse in this process. */
async function inProcess(
  phase: string,
  tasks: SweTask[],
  workers: number,
  gold: Map<string, string[]>,
): Promise<PhaseResult> {
  const dir = await mkdtemp(join(tmpdir(), "swerex-bench-trainer-"));
  const policy = new TrainerPolicy();
  const done = new AbortController();
  const trainer = (async () => {
    while (!done.signal.aborted) {
      const call = await policy
        .getRequest({ timeoutMs: POLL_S * 1000, signal: done.signal })
        .catch(() => null);
      if (!call) continue;
      const content =
        gold.get(goldId(call.session_id))?.[call.step] ?? "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
      policy.sendResponse(call.request_id, { content, finish_reason: "stop" });
    }
  })();
  try {
    const t0 = performance.now();
    const out = await runBatch({
      tasks,
      deployment: { type: "local" },
      policy,
      agent: AgentConfigSchema.parse({}),
      reward: RewardConfig.parse({}),
      options: BatchOptionsSchema.parse({ num_workers: workers, output_dir: dir, progress: "off" }),
      stdout: { write: () => true } as unknown as NodeJS.WritableStream,
      stderr: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    return summarize(phase, out.results, workers, performance.now() - t0, null);
  } finally {
    done.abort();
    await trainer;
    await policy.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function http(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads the API's JSON as it comes
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "x-api-key": KEY, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout((POLL_S + 30) * 1000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** (2)/(3) Through the service: create every rollout, answer calls with `pollers` long-polls, collect results. */
async function throughService(
  phase: string,
  url: string,
  pid: number,
  tasks: SweTask[],
  gold: Map<string, string[]>,
  serial = false,
): Promise<PhaseResult> {
  if (serial) {
    // One rollout at a time: the trainer path alone, without other rollouts' work in the service.
    const parts: RolloutResult[] = [];
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    for (const task of tasks) parts.push(...(await runThrough(url, [task], gold)));
    return summarize(phase, parts, 1, performance.now() - t0, cpuMs(pid) - cpu0);
  }
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const results = await runThrough(url, tasks, gold);
  return summarize(phase, results, tasks.length, performance.now() - t0, cpuMs(pid) - cpu0);
}

async function runThrough(
  url: string,
  tasks: SweTask[],
  gold: Map<string, string[]>,
): Promise<RolloutResult[]> {
  const deadline = Date.now() + PHASE_DEADLINE_MS;
  const instanceOf = new Map<string, string>();
  for (const task of tasks) {
    const r = await http(url, "POST", "/v1/rollouts", { task, policy: { type: "trainer" } });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    instanceOf.set(r.json.id, task.instance_id);
  }
  const pending = new Set(instanceOf.keys());
  const pollers = Array.from({ length: tasks.length }, async () => {
    while (pending.size > 0 && Date.now() < deadline) {
      const r = await http(url, "GET", `/v1/calls/next?timeout=${POLL_S}`);
      if (r.status === 204) continue;
      const call = r.json as { call_id: string; rollout_id: string; step: number };
      const instance = goldId(instanceOf.get(call.rollout_id) ?? "");
      const content = gold.get(instance)?.[call.step] ?? "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
      await http(url, "POST", `/v1/calls/${call.call_id}`, { content, finish_reason: "stop" });
    }
  });
  const results: RolloutResult[] = [];
  const watcher = (async () => {
    while (pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`${pending.size} rollouts still running at the deadline`);
      // One list call per round (results left out), then each newly finished rollout once.
      const done = await http(url, "GET", "/v1/rollouts?state=completed,failed,cancelled&limit=1000");
      for (const item of done.json.items as { id: string }[]) {
        if (!pending.delete(item.id)) continue;
        results.push((await http(url, "GET", `/v1/rollouts/${item.id}`)).json.result as RolloutResult);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await watcher;
  await Promise.all(pollers);
  return results;
}

export default async function main(opts: { quick: boolean }): Promise<void> {
  const concurrency = opts.quick ? 16 : 64;
  const baselineN = opts.quick ? 8 : 16;
  const examples = await loadTasks(join(ROOT, "examples/tasks.jsonl"));
  const gold = await goldReplies();
  const loadStart = loadavg()[0] ?? 0;
  const serialN = opts.quick ? 2 : 4;
  const serial = await inProcess("in_process_serial", cycle(examples, serialN), 1, gold);
  const baseline = await inProcess(`in_process_${baselineN}`, cycle(examples, baselineN), baselineN, gold);
  const dataDir = await mkdtemp(join(tmpdir(), "swerex-bench-serve-"));
  const { child, match } = await spawnReady(
    [
      "src/cli/swerex.ts",
      "serve",
      "--port",
      "0",
      "--data_dir",
      dataDir,
      "--log_level",
      "warn",
      "--max_rollouts",
      String(concurrency),
      "--instances.deployment.type",
      "local",
    ],
    /swerex serve listening on (http:\/\/\S+)/,
    { SWEREX_API_KEYS: KEY },
  );
  let phases: PhaseResult[];
  try {
    const pid = child.pid as number;
    const httpSerial = await throughService("http_serial", match, pid, cycle(examples, serialN), gold, true);
    const same = await throughService(`http_${baselineN}`, match, pid, cycle(examples, baselineN), gold);
    const full = await throughService(`http_${concurrency}`, match, pid, cycle(examples, concurrency), gold);
    phases = [serial, httpSerial, baseline, same, full];
  } finally {
    await stop(child);
    await rm(dataDir, { recursive: true, force: true });
  }
  const [serialIn, serialHttp, baselineIn, same, full] = phases as PhaseResult[] as [
    PhaseResult,
    PhaseResult,
    PhaseResult,
    PhaseResult,
    PhaseResult,
  ];
  // The path's own cost: one rollout at a time, so no other rollout's work delays the service's event loop.
  const added = roundTo(serialHttp.answer_wait.p50_ms - serialIn.answer_wait.p50_ms, 3);
  const result = {
    name: "trainer",
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg_at_start: roundTo(loadStart, 2),
    target: TARGET,
    phases,
    http_added_p50_ms: added,
    http_added_p50_ms_same_load: roundTo(same.answer_wait.p50_ms - baselineIn.answer_wait.p50_ms, 3),
    meets_target:
      added <= TARGET.added_p50_ms && full.timed_out_calls === 0 && full.completed === full.rollouts,
  };
  console.log(
    "phase              rollouts  conc  completed resolved  calls  timeouts  rollouts/min  wait p50/p99 ms  svc CPU ms/call",
  );
  for (const p of phases) {
    console.log(
      `${p.phase.padEnd(18)} ${String(p.rollouts).padStart(8)} ${String(p.concurrency).padStart(5)} ${String(p.completed).padStart(10)} ${String(p.resolved).padStart(8)} ${String(p.model_calls).padStart(6)} ${String(p.timed_out_calls).padStart(9)} ${String(p.rollouts_per_min).padStart(13)}  ${`${p.answer_wait.p50_ms}/${p.answer_wait.p99_ms}`.padStart(15)}  ${String(p.service_cpu_ms_per_call ?? "-").padStart(15)}`,
    );
  }
  console.log(
    `HTTP trainer path adds ${added} ms p50 per model call (target <= ${TARGET.added_p50_ms}); meets target: ${result.meets_target}`,
  );
  const out = join(ROOT, "bench/results", `trainer-${result.date.replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
