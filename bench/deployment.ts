/**
 * DockerDeployment start-up against the real engine, in one run:
 *   (a) start-to-alive of one deployment, sequentially, n times (p50/p99), busybox image + runtime bundle
 *   (b) 8 deployments started concurrently (wall time until all are alive)
 * with baselines measured in the same run on the same image: a bare dockerode create + start + wait of a
 * container running `true`, sequentially for (a) and 8 at once for (b). The ratios show what the runtime
 * server (node start, fastify, /is_alive polling) adds on top of the engine's own container start.
 *
 * `npm run bench -- deployment [--quick]`. JSON goes to bench/results/deployment-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "../src/bundle/build.js";
import { DockerDeployment } from "../src/deployment/docker/deployment.js";
import { pingEngine, sharedDockerClient } from "../src/docker/engine.js";
import { ensureBusyboxImage } from "../test/docker/images.js";
import { type LatencyStats, latencyStats } from "./lib/stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { start_p50_ms: 1000 };
const CONCURRENT = 8;

const stats = (samples: number[]): LatencyStats => latencyStats(samples, 1);

const docker = sharedDockerClient();
const LABELS = { "swerex.bench": String(process.pid) };

/** The baseline: what the engine alone needs to create, start and finish a container. */
async function bareRun(image: string): Promise<number> {
  const t = performance.now();
  const c = await docker.createContainer({
    Image: image,
    Cmd: ["true"],
    Labels: LABELS,
    HostConfig: { NetworkMode: "bridge" },
  });
  await c.start();
  await c.wait();
  const ms = performance.now() - t;
  await c.remove({ force: true });
  return ms;
}

async function deploymentStart(
  image: string,
  bundleDir: string,
): Promise<{ startMs: number; stopMs: number }> {
  const d = new DockerDeployment(
    { image, pull: "never", runtime_mount: bundleDir, labels: LABELS, startup_timeout: 120 },
    { onProgress: () => {} },
  );
  const t = performance.now();
  try {
    await d.start();
    const startMs = performance.now() - t;
    const s = performance.now();
    await d.stop();
    return { startMs, stopMs: performance.now() - s };
  } finally {
    await d.stop();
  }
}

async function wall(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, fn));
  return performance.now() - t;
}

export default async function run({ quick }: { quick: boolean }): Promise<unknown> {
  await pingEngine(docker);
  const n = quick ? 5 : 10;
  const [image, bundle] = await Promise.all([ensureBusyboxImage(docker), buildBundle()]);

  // Warm-up: first container start and first read of the 100 MB node binary are not what we measure.
  await bareRun(image);
  await deploymentStart(image, bundle.dir);

  const bare: number[] = [];
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < n; i++) {
    // Interleaved, so load from other processes hits both series alike.
    bare.push(await bareRun(image));
    const r = await deploymentStart(image, bundle.dir);
    starts.push(r.startMs);
    stops.push(r.stopMs);
  }
  const bareConcurrent = await wall(CONCURRENT, () => bareRun(image));
  const concurrent = await wall(CONCURRENT, () => deploymentStart(image, bundle.dir));

  const a = stats(starts);
  const base = stats(bare);
  const result = {
    name: "deployment",
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg_at_start: loadavg()[0] ?? 0,
    image,
    target: TARGET,
    a_start_to_alive: a,
    a_baseline_bare_create_start_wait: base,
    a_ratio_p50: Math.round((a.p50_ms / base.p50_ms) * 100) / 100,
    stop: stats(stops),
    b_concurrent: {
      deployments: CONCURRENT,
      wall_ms: Math.round(concurrent),
      baseline_bare_wall_ms: Math.round(bareConcurrent),
      ratio: Math.round((concurrent / bareConcurrent) * 100) / 100,
    },
    meets_target: { start_p50: a.p50_ms < TARGET.start_p50_ms },
  };

  const rows: [string, string, string, string][] = [
    ["start-to-alive (sequential)", `${a.p50_ms}`, `${a.p99_ms}`, `x${result.a_ratio_p50} vs bare`],
    ["  baseline: bare create+start+wait `true`", `${base.p50_ms}`, `${base.p99_ms}`, ""],
    ["stop (close + remove)", `${result.stop.p50_ms}`, `${result.stop.p99_ms}`, ""],
    [
      `${CONCURRENT} concurrent starts (wall)`,
      `${result.b_concurrent.wall_ms}`,
      "",
      `x${result.b_concurrent.ratio} vs bare`,
    ],
    [
      `  baseline: ${CONCURRENT} concurrent bare runs (wall)`,
      `${result.b_concurrent.baseline_bare_wall_ms}`,
      "",
      "",
    ],
  ];
  process.stdout.write(
    `\nDockerDeployment start-up (${image}, n=${n}, load ${result.loadavg_at_start.toFixed(2)})\n`,
  );
  process.stdout.write(`${"".padEnd(48)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}  ratio\n`);
  for (const [what, p50, p99, ratio] of rows) {
    process.stdout.write(`${what.padEnd(48)}${p50.padStart(10)}${p99.padStart(10)}  ${ratio}\n`);
  }
  process.stdout.write(
    `target p50 < ${TARGET.start_p50_ms} ms: ${result.meets_target.start_p50 ? "met" : "NOT met"}\n`,
  );

  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `deployment-${result.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
  return result;
}
