/**
 * TencentAGSDeployment at scale through the AGS emulator, with realistic latencies (instance start 1-3 s,
 * 50 ms per API call, AGS's default 20 requests/s per action):
 *   (a) baseline, same run: one deployment alone, start-to-alive, n times (p50)
 *   (b) N deployments started at once (default 200): wall time, control-plane calls per deployment,
 *       p50/p99 start-to-alive
 * Ratios: (b) wall time against the floor that the rate limit alone imposes (N starts at 20/s plus one
 * solo start), and (b) p50 against (a) p50. Sandboxes are real swerex-remote servers on loopback, run in
 * this process so that hundreds fit on two cores.
 *
 * `npm run bench -- ags [--quick] [--n=200]`. JSON goes to bench/results/ags-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { AgsClient } from "../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../src/deployment/ags/deployment.js";
import type { AgsEmulator } from "../src/emulator/ags/index.js";
import {
  emulatorConfig,
  inProcessBackend,
  SECRET_ID,
  SECRET_KEY,
  startEmulator,
} from "../test/ags/emulator-helpers.js";
import { type LatencyStats, latencyStats } from "./lib/stats.js";
import type { BenchOptions } from "./run.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RATE_LIMIT = 20;
const LATENCY = { apiMs: 50, startMs: [1000, 3000] as [number, number], toolMs: 1000 };

/** Whole milliseconds: AGS start-ups take seconds. */
const stats = (samples: number[]): LatencyStats => latencyStats(samples, 0);

const silent = pino({ level: "silent" });

function newClient(emu: AgsEmulator): AgsClient {
  return new AgsClient({
    secretId: SECRET_ID,
    secretKey: SECRET_KEY,
    region: "ap-chongqing",
    endpoint: emu.endpoint,
    rateLimit: RATE_LIMIT,
    logger: silent,
  });
}

/** Starts `n` deployments at once on one client; returns each one's start-to-alive time. */
async function startMany(
  emu: AgsEmulator,
  client: AgsClient,
  n: number,
): Promise<{ times: number[]; wallMs: number }> {
  const dispatcher = emu.dispatcher();
  const ds = Array.from(
    { length: n },
    () =>
      new TencentAGSDeployment(emulatorConfig(emu, { startup_timeout: 600 }), {
        client,
        dispatcher,
        logger: silent,
        pollIntervalMs: 500,
      }),
  );
  const t0 = performance.now();
  const times = await Promise.all(
    ds.map(async (d) => {
      const t = performance.now();
      await d.start();
      return performance.now() - t;
    }),
  );
  const wallMs = performance.now() - t0;
  await Promise.all(ds.map((d) => d.stop()));
  return { times, wallMs };
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

export default async function bench(opts: BenchOptions): Promise<unknown> {
  const nArg = opts.args.find((a) => a.startsWith("--n="));
  const n = nArg ? Number(nArg.slice(4)) : opts.quick ? 40 : 200;
  const soloRuns = opts.quick ? 3 : 5;
  const emu = await startEmulator({
    backend: inProcessBackend(),
    defaultRateLimit: RATE_LIMIT,
    instanceQuota: 10_000,
    latency: LATENCY,
  });
  try {
    const client = newClient(emu);
    // Warm-up: creates the shared tool, so neither measurement pays for it.
    await startMany(emu, client, 1);

    const solo: number[] = [];
    for (let i = 0; i < soloRuns; i++) solo.push(...(await startMany(emu, client, 1)).times);
    const soloStats = stats(solo);

    const before = emu.callCounts();
    const clientBefore = { ...client.callCounts };
    const many = await startMany(emu, client, n);
    const serverCalls = diff(emu.callCounts(), before);
    const clientCalls = diff(client.callCounts, clientBefore);
    const manyStats = stats(many.times);
    const total = (c: Record<string, number>) => Object.values(c).reduce((s, x) => s + x, 0);
    const startCalls =
      (serverCalls.StopSandboxInstance ?? 0) > 0
        ? total(serverCalls) - (serverCalls.StopSandboxInstance ?? 0)
        : total(serverCalls);
    // The rate limit alone needs n/20 s to accept n StartSandboxInstance calls; the last one then takes a solo start.
    const floorMs = (n / RATE_LIMIT) * 1000 + soloStats.p50_ms;
    const result = {
      benchmark: "ags",
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg() },
      latency: LATENCY,
      rate_limit_per_action: RATE_LIMIT,
      solo_start_to_alive: soloStats,
      concurrent: {
        deployments: n,
        wall_ms: Math.round(many.wallMs),
        start_to_alive: manyStats,
        calls_per_deployment_including_stop: Math.round((total(serverCalls) / n) * 100) / 100,
        calls_per_deployment_start_only: Math.round((startCalls / n) * 100) / 100,
        server_calls_by_action: serverCalls,
        client_attempts_by_action: clientCalls,
      },
      ratios: {
        wall_vs_rate_limit_floor: Math.round((many.wallMs / floorMs) * 100) / 100,
        p50_vs_solo_p50: Math.round((manyStats.p50_ms / soloStats.p50_ms) * 100) / 100,
      },
    };
    const table = [
      ["measurement", "value"],
      ["solo start-to-alive p50", `${soloStats.p50_ms} ms`],
      [`${n} at once: wall time`, `${result.concurrent.wall_ms} ms`],
      [`${n} at once: start-to-alive p50 / p99`, `${manyStats.p50_ms} / ${manyStats.p99_ms} ms`],
      [
        "control-plane calls per deployment (start)",
        String(result.concurrent.calls_per_deployment_start_only),
      ],
      [
        "control-plane calls per deployment (start+stop)",
        String(result.concurrent.calls_per_deployment_including_stop),
      ],
      ["wall / rate-limit floor", String(result.ratios.wall_vs_rate_limit_floor)],
      ["p50 / solo p50", String(result.ratios.p50_vs_solo_p50)],
    ];
    const width = Math.max(...table.map((r) => (r[0] ?? "").length));
    for (const [k, v] of table) process.stdout.write(`${(k ?? "").padEnd(width)}  ${v}\n`);
    process.stdout.write(`calls by action: ${JSON.stringify(serverCalls)}\n`);
    const dir = join(ROOT, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `ags-${result.when.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`wrote ${file}\n`);
    client.close();
    return result;
  } finally {
    await emu.close();
  }
}
