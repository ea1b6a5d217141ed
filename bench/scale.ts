/**
 * Scale-out benchmarks of `swerex serve` (issue 10), each against its baseline in the same run:
 *   (a) a sandbox from a warm pool vs a cold start (docker, busybox image + runtime bundle): p50/p99 of
 *       POST /v1/sandboxes until it answers 201 running;
 *   (b) N concurrent creates over a 2-host fleet vs the same N on one host: wall time (two extra dockerd
 *       engines started here, as the tests do);
 *   (c) 200 creates against the AGS emulator through two replicas vs the rate-limit floor: not measured
 *       yet, the service has no tencentags backend to place on (docs/control-plane.md).
 * `--quick`: fewer samples and N = 16 instead of 64; `--only a` (or b): that row alone. Needs root (extra engines), DOCKER_HOST and the
 * busybox test image (built on first use).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { buildBundle } from "../src/bundle/build.js";
import { sharedDockerClient } from "../src/docker/engine.js";
import { api, startServeWithConfig, testServiceId, until } from "../test/controlplane/serve.js";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../test/docker/images.js";
import { startDockerdFleet } from "../test/helpers/dockerd-fleet.js";
import { busyFraction, machineCpu } from "./lib/proc.js";
import { latencyStats, roundTo } from "./lib/stats.js";
import type { BenchOptions } from "./run.js";

const KEY = "bench-key-aaaaaaaaaaaaaaaaaa";
const RESULTS_DIR = join(import.meta.dirname, "results");

async function serveWith(config: unknown, deploymentArgs: string[]) {
  const serve = await startServeWithConfig(config, {
    keys: [KEY],
    serviceId: testServiceId(),
    args: ["--log_level", "warn", "--max_sandboxes", "0", ...deploymentArgs],
  });
  return {
    call: (method: string, path: string, body?: unknown) =>
      api(serve.url, method, path, { key: KEY, ...(body !== undefined ? { body } : {}) }),
    close: () => serve.remove(),
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

export default async function run(opts: BenchOptions): Promise<unknown> {
  const only = opts.args.includes("--only") ? opts.args[opts.args.indexOf("--only") + 1] : undefined;
  const want = (row: string) => only === undefined || only === row;
  const samples = opts.quick ? 5 : 20;
  const n = opts.quick ? 16 : 64;
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

  const a = want("a") ? await poolVsCold(deploymentArgs, samples) : undefined;
  let b:
    | { one_host_s: number; two_hosts_s: number; one_host_cpu_busy: number; two_hosts_cpu_busy: number }
    | undefined;
  if (want("b")) {
    const fleet = await startDockerdFleet({ names: ["a", "b"] });
    try {
      const hosts = fleet.engines.map((e) => ({ name: e.name, docker_host: e.dockerHost }));
      const one = await burst(hosts.slice(0, 1), n, deploymentArgs);
      const two = await burst(hosts, n, deploymentArgs);
      b = {
        one_host_s: one.wall_s,
        two_hosts_s: two.wall_s,
        one_host_cpu_busy: one.cpu_busy,
        two_hosts_cpu_busy: two.cpu_busy,
      };
    } finally {
      await fleet.destroy();
    }
  }
  const result = {
    bench: "scale",
    quick: opts.quick,
    a_pool_vs_cold: a && {
      ...a,
      p50_ratio: roundTo(a.warm.p50_ms / a.cold.p50_ms, 3),
      target_p50_ms: 20,
    },
    b_fleet_burst: b && { n, ...b, ratio: roundTo(b.two_hosts_s / b.one_host_s, 2), target_ratio: 0.6 },
    c_ags_two_replicas: "not measured: the service has no tencentags backend yet",
  };
  process.stdout.write(
    [
      ...(a
        ? [
            `(a) warm pool  p50 ${a.warm.p50_ms} ms  p99 ${a.warm.p99_ms} ms   (target p50 <= 20 ms)`,
            `    cold start p50 ${a.cold.p50_ms} ms  p99 ${a.cold.p99_ms} ms   (n=${samples} each)`,
          ]
        : []),
      ...(b
        ? [
            `(b) ${n} creates: one host ${b.one_host_s} s, two hosts ${b.two_hosts_s} s, ratio ${result.b_fleet_burst?.ratio} (target <= 0.6)`,
            `    machine CPU busy during the burst: one host ${b.one_host_cpu_busy}, two hosts ${b.two_hosts_cpu_busy} (${cpus().length} cores shared by every engine)`,
          ]
        : []),
      "(c) not measured (no tencentags backend in the service yet)",
      "",
    ].join("\n"),
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `scale-${Date.now()}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
