/**
 * Scale-out benchmarks of `swerex serve` (issue 10), each against its baseline in the same run:
 *   (a) a sandbox from a warm pool vs a cold start (docker, busybox image + runtime bundle): p50/p99 of
 *       POST /v1/sandboxes until it answers 201 running;
 *   (b) N concurrent creates over a 2-host fleet vs the same N on one host: wall time (two extra dockerd
 *       engines started here, as the tests do);
 *   (c) 200 concurrent creates (`tencentags`) through two replicas on one PostgreSQL against the AGS
 *       emulator at its default per-action limit R = 20/s, `api_rate_limit` = R: wall until all are
 *       running vs the rate-limit floor, 200 / R seconds (the time StartSandboxInstance needs at exactly the
 *       limit; one call per create), also vs (n - 1) / R plus one create's latency measured alone just
 *       before (after a first create that sets up the account's sandbox tool, a once-per-service cost),
 *       and the emulator's RequestLimitExceeded count (must be 0). The
 *       emulator runs in its own higher-priority process, as the real AGS is a server of its own
 *       (test/ags/emulator-process.ts). Needs SWEREX_TEST_PG_URL.
 * `--quick`: fewer samples, N = 16 instead of 64, 60 AGS creates instead of 200. `--only a,b,c` (or one row, `--only c`): just those
 * rows (c alone needs neither root nor Docker). Rows a and b need root (extra engines), DOCKER_HOST and the
 * busybox test image (built on first use).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { buildBundle } from "../src/bundle/build.js";
import { LABEL_SERVICE } from "../src/deployment/index.js";
import { sharedDockerClient } from "../src/docker/engine.js";
import { startEmulatorProcess } from "../test/ags/emulator-process.js";
import { startAgsReplicas } from "../test/controlplane/ags-replicas.js";
import { api, startServeWithConfig, testServiceId, until } from "../test/controlplane/serve.js";
import { removeContainersWithLabel } from "../test/docker/fixtures.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../test/docker/images.js";
import { startDockerdFleet } from "../test/helpers/dockerd-fleet.js";
import { tempPostgresDatabase } from "../test/store/pg-admin.js";
import { busyFraction, machineCpu } from "./lib/proc.js";
import { latencyStats, roundTo } from "./lib/stats.js";
import { BenchUsageError } from "./lib/usage.js";
import type { BenchOptions } from "./run.js";

const KEY = "bench-key-aaaaaaaaaaaaaaaaaa";
const RESULTS_DIR = join(import.meta.dirname, "results");

async function serveWith(config: unknown, deploymentArgs: string[]) {
  const serviceId = testServiceId();
  const serve = await startServeWithConfig(config, {
    keys: [KEY],
    serviceId,
    args: ["--log_level", "warn", "--max_sandboxes", "0", ...deploymentArgs],
  });
  return {
    call: (method: string, path: string, body?: unknown) =>
      api(serve.url, method, path, { key: KEY, ...(body !== undefined ? { body } : {}) }),
    // A pool's ready sandboxes outlive a service shutdown by design (they are records, kept for a restart):
    // a benchmark that goes for good removes its service's containers itself.
    close: async () => {
      await serve.remove();
      await removeContainersWithLabel(`${LABEL_SERVICE}=${serviceId}`);
    },
  };
}

function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  return fn().then((v) => [performance.now() - t0, v]);
}

/** (a) warm pool hand-out vs cold start, sequentially, each sandbox deleted after. */
async function poolVsCold(deploymentArgs: string[], samples: number) {
  const s = await serveWith({ pools: [{ name: "warm", size: 2 }] }, deploymentArgs);
  try {
    // Each sample starts with the pool full and nothing starting, so the refill of the previous hand-out
    // does not compete for the two cores with the call measured.
    const settled = async () => {
      const p = (await s.call("GET", "/v1/pools")).body.items[0];
      return p.ready === p.size && p.starting === 0 ? true : undefined;
    };
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < samples; i++) {
      await until("pool full", settled, 180_000);
      const [wMs, w] = await timed(() => s.call("POST", "/v1/sandboxes", { pool: "warm" }));
      if (w.status !== 201) throw new Error(`pool create: ${w.status} ${w.text}`);
      warm.push(wMs);
      await until("pool full", settled, 180_000);
      const [cMs, c] = await timed(() => s.call("POST", "/v1/sandboxes", {}));
      if (c.status !== 201) throw new Error(`cold create: ${c.status} ${c.text}`);
      cold.push(cMs);
      await Promise.all([w.body.id, c.body.id].map((id) => s.call("DELETE", `/v1/sandboxes/${id}`)));
    }
    return { warm: latencyStats(warm, 1), cold: latencyStats(cold, 1) };
  } finally {
    await s.close();
  }
}

/**
 * (b) `n` concurrent creates on the given hosts; wall until all are running, and how busy the machine's
 * CPUs were meanwhile (the engines of the fleet share this machine's cores: near 1 means CPU-bound).
 */
async function burst(hosts: { name: string; docker_host: string }[], n: number, deploymentArgs: string[]) {
  const perHost = Math.ceil(n / hosts.length);
  const s = await serveWith(
    { docker_hosts: hosts.map((h) => ({ ...h, max_sandboxes: perHost })), admission: { queue_timeout: 600 } },
    deploymentArgs,
  );
  try {
    const cpu0 = machineCpu();
    const [ms, answers] = await timed(() =>
      Promise.all(Array.from({ length: n }, () => s.call("POST", "/v1/sandboxes", {}))),
    );
    const cpuBusy = roundTo(busyFraction(cpu0, machineCpu()), 2);
    const failed = answers.filter((a) => a.status !== 201);
    await Promise.all(
      answers.filter((a) => a.body?.id).map((a) => s.call("DELETE", `/v1/sandboxes/${a.body.id}`)),
    );
    if (failed.length > 0) throw new Error(`${failed.length} creates failed: ${failed[0]?.text}`);
    return { wall_s: roundTo(ms / 1000, 2), cpu_busy: cpuBusy };
  } finally {
    await s.close();
  }
}

/** The AGS emulator's default per-action limit (the real API's, spec/ags.md). */
const AGS_RATE = 20;

/** (c) `n` concurrent creates split over two replicas sharing the AGS rate limit; all deleted after. */
async function agsTwoReplicas(n: number) {
  const pgUrl = process.env.SWEREX_TEST_PG_URL;
  if (!pgUrl)
    throw new Error("row (c) needs SWEREX_TEST_PG_URL (a PostgreSQL server to create a database on)");
  const emu = await startEmulatorProcess({ defaultRateLimit: AGS_RATE, instanceQuota: n + 10 });
  const db = await tempPostgresDatabase(pgUrl, "swerex_bench");
  try {
    const r = await startAgsReplicas({
      count: 2,
      key: KEY,
      databaseUrl: db.url,
      emulator: emu,
      rateLimit: AGS_RATE,
      logLevel: "warn",
    });
    try {
      // Two creates first, alone: the first sets up the account's sandbox tool (once per service, not per
      // create), the second measures one create's own latency, the part of the burst no pacing removes.
      const alone = async () => {
        const [oneMs, one] = await timed(() => r.call(0, "POST", "/v1/sandboxes", {}));
        if (one.status !== 201) throw new Error(`single create: ${one.status} ${one.text}`);
        await r.call(0, "DELETE", `/v1/sandboxes/${one.body.id}`);
        return oneMs;
      };
      await alone();
      const oneMs = await alone();
      const [ms, answers] = await timed(() =>
        Promise.all(Array.from({ length: n }, (_, k) => r.call(k % 2, "POST", "/v1/sandboxes", {}))),
      );
      const failed = answers.filter((a) => a.status !== 201 || a.body.state !== "running");
      const afterCreates = await emu.state();
      const stopped = await Promise.all(
        answers
          .filter((a) => a.body?.id)
          .map((a, k) => r.call(k % 2, "DELETE", `/v1/sandboxes/${a.body.id}`)),
      );
      const notStopped = stopped.filter((s) => s.body?.state !== "stopped").length;
      const left = await emu.liveInstances();
      const end = await emu.state();
      if (failed.length > 0) throw new Error(`${failed.length} creates failed: ${failed[0]?.text}`);
      if (notStopped > 0 || left.length > 0)
        throw new Error(`${notStopped} deletes failed, ${left.length} instances left running`);
      const floor = n / AGS_RATE;
      // The earliest the last create can start at the limit (n - 1 gaps of 1/R) plus its own latency.
      const floorWithLatency = (n - 1) / AGS_RATE + oneMs / 1000;
      return {
        n,
        rate_limit: AGS_RATE,
        wall_s: roundTo(ms / 1000, 2),
        floor_s: floor,
        ratio: roundTo(ms / 1000 / floor, 3),
        single_create_s: roundTo(oneMs / 1000, 3),
        floor_with_latency_s: roundTo(floorWithLatency, 2),
        ratio_with_latency: roundTo(ms / 1000 / floorWithLatency, 3),
        limited_after_creates: afterCreates.limitedCounts,
        limited_after_deletes: end.limitedCounts,
        calls: end.callCounts,
        instances_left: left.length,
        // The wall depends on how starved the replicas are; the ratio means most on an idle machine.
        load_average_1m: roundTo(loadavg()[0] ?? 0, 1),
      };
    } finally {
      await r.remove();
    }
  } finally {
    await emu.close();
    await db.drop();
  }
}

/** `--only a,c` (or `--only=a,c`): the rows to run; all by default. */
function rowsToRun(args: string[]): Set<string> {
  const i = args.findIndex((a) => a === "--only" || a.startsWith("--only="));
  if (i === -1) return new Set(["a", "b", "c"]);
  const arg = args[i] as string;
  const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : (args[i + 1] ?? "");
  const rows = new Set(value.split(",").filter(Boolean));
  const unknown = [...rows].filter((r) => !["a", "b", "c"].includes(r));
  if (rows.size === 0 || unknown.length > 0)
    throw new BenchUsageError(`--only takes rows among a,b,c, got "${value}"`);
  return rows;
}

export default async function run(opts: BenchOptions): Promise<unknown> {
  const rows = rowsToRun(opts.args);
  const samples = opts.quick ? 5 : 20;
  const n = opts.quick ? 16 : 64;
  const agsN = opts.quick ? 60 : 200;
  const result: Record<string, unknown> = { bench: "scale", quick: opts.quick };
  const lines: string[] = [];
  if (rows.has("a") || rows.has("b")) Object.assign(result, await dockerRows(rows, samples, n, lines));
  if (rows.has("c")) {
    const c = await agsTwoReplicas(agsN);
    result.c_ags_two_replicas = { ...c, target_ratio: 1.2 };
    lines.push(
      `(c) ${c.n} AGS creates on two replicas: wall ${c.wall_s} s, floor ${c.floor_s} s (${c.n} / ${c.rate_limit} per s), ratio ${c.ratio} (target <= 1.2; load average ${c.load_average_1m})`,
      `    vs (n - 1) / R + one create alone (${c.single_create_s} s) = ${c.floor_with_latency_s} s: ratio ${c.ratio_with_latency}`,
      `    RequestLimitExceeded: ${JSON.stringify(c.limited_after_deletes)} (target {}); instances left: ${c.instances_left}`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `scale-${Date.now()}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** Rows (a) and (b): Docker, on the CI engine and two extra engines. */
async function dockerRows(rows: Set<string>, samples: number, n: number, lines: string[]) {
  const bundle = (await buildBundle()).dir;
  const deploymentArgs = [
    "--instances.deployment.type=docker",
    `--instances.deployment.image=${BUSYBOX_IMAGE}`,
    "--instances.deployment.pull=never",
    `--instances.deployment.runtime_mount=${bundle}`,
    "--instances.deployment.startup_timeout=300",
    "--instances.deployment.memory_limit=256m",
  ];
  await ensureBusyboxImage(sharedDockerClient());
  const result: Record<string, unknown> = {};
  if (rows.has("a")) {
    const a = await poolVsCold(deploymentArgs, samples);
    result.a_pool_vs_cold = { ...a, p50_ratio: roundTo(a.warm.p50_ms / a.cold.p50_ms, 3), target_p50_ms: 20 };
    lines.push(
      `(a) warm pool  p50 ${a.warm.p50_ms} ms  p99 ${a.warm.p99_ms} ms   (target p50 <= 20 ms)`,
      `    cold start p50 ${a.cold.p50_ms} ms  p99 ${a.cold.p99_ms} ms   (n=${samples} each)`,
    );
  }
  if (rows.has("b")) {
    const fleet = await startDockerdFleet({ names: ["a", "b"] });
    try {
      const hosts = fleet.engines.map((e) => ({ name: e.name, docker_host: e.dockerHost }));
      const one = await burst(hosts.slice(0, 1), n, deploymentArgs);
      const two = await burst(hosts, n, deploymentArgs);
      const ratio = roundTo(two.wall_s / one.wall_s, 2);
      result.b_fleet_burst = {
        n,
        one_host_s: one.wall_s,
        two_hosts_s: two.wall_s,
        one_host_cpu_busy: one.cpu_busy,
        two_hosts_cpu_busy: two.cpu_busy,
        ratio,
        target_ratio: 0.6,
      };
      lines.push(
        `(b) ${n} creates: one host ${one.wall_s} s, two hosts ${two.wall_s} s, ratio ${ratio} (target <= 0.6)`,
        `    machine CPU busy during the burst: one host ${one.cpu_busy}, two hosts ${two.cpu_busy} (${cpus().length} cores shared by every engine)`,
      );
    } finally {
      await fleet.destroy();
    }
  }
  return result;
}
