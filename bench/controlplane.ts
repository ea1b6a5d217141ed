/**
 * The control plane (`swerex serve`, a real process) against its baselines, measured in the same run:
 *   (a) create-to-running through the service (`POST /v1/sandboxes`, wait) vs the same sandbox started
 *       directly: local (a swerex-remote child, what the local backend starts) and docker (busybox image +
 *       runtime bundle); also through the `controlplane` deployment (create, then poll) for the client's cost
 *   (b) `run_in_session` `echo hi` through the pass-through vs straight to a swerex-remote: p50 of each, and
 *       the service's CPU per pass-through call (from /proc)
 *   (c) `GET /v1/sandboxes/{id}` and `GET /v1/sandboxes` (a page of 100) p50 with 10,000 records (dummy
 *       backend), and the service's RSS
 *   (d) 100 concurrent creates on the AGS emulator through the service vs the floor its rate limit imposes
 *       (n / 20 per s + one solo start), when the service has a tencentags backend
 * Targets: (a) <= 1.1x direct; (b) adds <= 0.5 ms p50; (c) get p50 <= 2 ms; (d) <= 1.2x the floor.
 *
 * `npm run bench -- controlplane [--quick] [--skip=a,b,c,d]`. JSON goes to bench/results/controlplane-<timestamp>.json.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "../src/bundle/build.js";
import { ControlPlaneClient, ControlPlaneDeployment } from "../src/deployment/controlplane/index.js";
import { DockerDeployment } from "../src/deployment/docker/deployment.js";
import { pingEngine, sharedDockerClient } from "../src/docker/engine.js";
import { RemoteRuntime } from "../src/runtime/remote.js";
import { spawnRuntimeServerProcess } from "../src/server/index.js";
import { inProcessBackend, SECRET_ID, SECRET_KEY, startEmulator } from "../test/ags/emulator-helpers.js";
import { type RunningServe, startServe } from "../test/controlplane-client/serve.js";
import { ensureBusyboxImage } from "../test/docker/images.js";
import { type LatencyStats, latencyStats, roundTo } from "./lib/stats.js";
import type { BenchOptions } from "./run.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { create_ratio: 1.1, passthrough_added_p50_ms: 0.5, get_p50_ms: 2, ags_vs_floor: 1.2 };
const AGS_RATE_LIMIT = 20;
const RECORDS = 10_000;
/** Concurrent creates while filling the store for (c): enough to keep two cores busy, not more. */
const FILL_CONCURRENCY = 16;

/** CPU time (user + system) a process has used, in ms, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? roundTo(Number(m[1]) / 1024, 1) : Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** A swerex-remote child started directly, alive: what the local backend starts for a sandbox. */
async function directLocal(): Promise<{ runtime: RemoteRuntime; pid: number; stop(): Promise<void> }> {
  const token = randomUUID();
  const server = await spawnRuntimeServerProcess({ authToken: token });
  const runtime = new RemoteRuntime({ host: server.url, auth_token: token, timeout: 5 });
  await runtime.waitUntilAlive({ timeoutMs: 60_000 });
  return {
    runtime,
    pid: server.pid,
    stop: async () => {
      await runtime.dispose();
      await server.stop();
    },
  };
}

interface Row {
  row: string;
  measured: string;
  baseline: string;
  ratio_or_delta: string;
  target: string;
}

/** The table row of (a) for one backend. */
function createRow(backend: string, r: Awaited<ReturnType<typeof createToRunning>>): Row {
  return {
    row: `(a) ${backend} create-to-running p50`,
    measured: `${r.service.p50_ms} ms (deployment ${r.client_deployment.p50_ms} ms)`,
    baseline: `${r.direct.p50_ms} ms direct`,
    ratio_or_delta: `${roundTo(r.service.p50_ms / r.direct.p50_ms, 2)}x`,
    target: `<= ${TARGET.create_ratio}x`,
  };
}

/** (a) one backend: `n` sequential starts each way, alternating so drift hits both alike. */
async function createToRunning(
  serve: RunningServe,
  client: ControlPlaneClient,
  n: number,
  deployment: Record<string, unknown>,
  direct: () => Promise<() => Promise<void>>,
): Promise<{ service: LatencyStats; client_deployment: LatencyStats; direct: LatencyStats }> {
  const viaService: number[] = [];
  const viaDeployment: number[] = [];
  const viaDirect: number[] = [];
  const once = async () => {
    let stop: (() => Promise<void>) | undefined;
    viaDirect.push(await timed(async () => (stop = await direct())));
    await stop?.();
    let id = "";
    viaService.push(
      await timed(async () => (id = (await client.create({ deployment, wait: true })).sandbox.id)),
    );
    await client.delete(id);
    const d = new ControlPlaneDeployment({
      url: serve.url,
      api_key: serve.apiKey,
      deployment,
      lease_renewal: 0,
    });
    viaDeployment.push(await timed(() => d.start()));
    await d.stop();
  };
  await once(); // warm-up: first node start, first image read, first store writes
  viaService.length = viaDeployment.length = viaDirect.length = 0;
  for (let i = 0; i < n; i++) await once();
  return {
    service: latencyStats(viaService, 1),
    client_deployment: latencyStats(viaDeployment, 1),
    direct: latencyStats(viaDirect, 1),
  };
}

/**
 * (b) on one sandbox kind: `deployment` through the service vs `direct()` (the same kind started here).
 * Docker when an engine is there: both run the bundle's bash in busybox, so only the hop differs.
 */
async function passThrough(
  serve: RunningServe,
  client: ControlPlaneClient,
  n: number,
  deployment: Record<string, unknown>,
  direct: () => Promise<{ runtime: RemoteRuntime; stop(): Promise<void> }>,
) {
  const { sandbox } = await client.create({ deployment, wait: true });
  const proxied = new RemoteRuntime({
    host: sandbox.runtime_url as string,
    auth_token: serve.apiKey,
    timeout: 5,
  });
  const baseline = await direct();
  try {
    await proxied.createSession({ session: "b", startup_timeout: 60 });
    await baseline.runtime.createSession({ session: "b", startup_timeout: 60 });
    const action = { session: "b", command: "echo hi", timeout: 30 };
    for (let i = 0; i < 20; i++) {
      await proxied.runInSession(action);
      await baseline.runtime.runInSession(action);
    }
    const viaService: number[] = [];
    const viaDirect: number[] = [];
    let serviceCpu = 0;
    for (let i = 0; i < n; i++) {
      viaDirect.push(await timed(() => baseline.runtime.runInSession(action)));
      const c0 = cpuMs(serve.pid);
      viaService.push(await timed(() => proxied.runInSession(action)));
      serviceCpu += cpuMs(serve.pid) - c0;
    }
    return {
      sandbox: String(deployment.type),
      service: latencyStats(viaService, 3),
      direct: latencyStats(viaDirect, 3),
      service_cpu_ms_per_call: roundTo(serviceCpu / n, 3),
    };
  } finally {
    await proxied.dispose();
    await baseline.stop();
    await client.delete(sandbox.id);
  }
}

async function registryReads(serve: RunningServe, client: ControlPlaneClient, records: number, n: number) {
  const ids: string[] = [];
  const fillStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: FILL_CONCURRENCY }, async () => {
      while (next < records) {
        next += 1;
        const { sandbox } = await client.create({
          deployment: { type: "dummy" },
          metadata: { bench: "c" },
          wait: true,
        });
        ids.push(sandbox.id);
      }
    }),
  );
  const fillMs = performance.now() - fillStart;
  const gets: number[] = [];
  const lists: number[] = [];
  for (let i = 0; i < 50; i++) await client.get(ids[i % ids.length] as string);
  for (let i = 0; i < n; i++) {
    const id = ids[Math.floor(Math.random() * ids.length)] as string;
    gets.push(await timed(() => client.get(id)));
  }
  let cursor: string | undefined;
  for (let i = 0; i < Math.max(20, n / 10); i++) {
    lists.push(
      await timed(async () => {
        const page = await client.list({ limit: 100, ...(cursor ? { cursor } : {}) });
        cursor = page.next_cursor ?? undefined;
      }),
    );
  }
  return {
    records: ids.length,
    fill_creates_per_s: roundTo(ids.length / (fillMs / 1000), 0),
    get: latencyStats(gets, 3),
    list_page_of_100: latencyStats(lists, 3),
    service_rss_mb: rssMb(serve.pid),
  };
}

async function agsThroughService(n: number) {
  const emu = await startEmulator({
    backend: inProcessBackend(),
    defaultRateLimit: AGS_RATE_LIMIT,
    instanceQuota: 10_000,
    latency: { apiMs: 50, startMs: [1000, 3000], toolMs: 1000 },
  });
  const deployment = {
    type: "tencentags",
    http_endpoint: emu.endpoint,
    domain: emu.domain,
    gateway_address: emu.endpoint,
    api_rate_limit: AGS_RATE_LIMIT,
    startup_timeout: 600,
  };
  const serve = await startServe({
    args: ["--instances.deployment.type=tencentags", "--max_sandboxes", "1000"],
    env: { TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
  });
  const client = new ControlPlaneClient({ url: serve.url, apiKey: serve.apiKey, timeoutMs: 900_000 });
  try {
    const createMany = async (k: number) => {
      const t0 = performance.now();
      const times: number[] = [];
      const ids = await Promise.all(
        Array.from({ length: k }, async () => {
          const t = performance.now();
          const { sandbox } = await client.create({ deployment, wait: true });
          times.push(performance.now() - t);
          return sandbox.id;
        }),
      );
      const wallMs = performance.now() - t0;
      await Promise.all(ids.map((id) => client.delete(id)));
      return { wallMs, times };
    };
    await createMany(1); // warm-up: the shared SandboxTool is created once
    const solo: number[] = [];
    for (let i = 0; i < 3; i++) solo.push(...(await createMany(1)).times);
    const soloStats = latencyStats(solo, 0);
    const many = await createMany(n);
    const floorMs = (n / AGS_RATE_LIMIT) * 1000 + soloStats.p50_ms;
    return {
      creates: n,
      solo_create_p50_ms: soloStats.p50_ms,
      wall_ms: Math.round(many.wallMs),
      create_to_running: latencyStats(many.times, 0),
      rate_limit_floor_ms: Math.round(floorMs),
      wall_vs_floor: roundTo(many.wallMs / floorMs, 2),
    };
  } finally {
    await serve.stop();
    await emu.close();
  }
}

export default async function bench(opts: BenchOptions): Promise<unknown> {
  const skip = new Set(
    (opts.args.find((a) => a.startsWith("--skip="))?.slice(7) ?? "").split(",").filter(Boolean),
  );
  const n = opts.quick ? 5 : 15;
  const calls = opts.quick ? 300 : 2000;
  const records = opts.quick ? 2000 : RECORDS;
  const result: Record<string, unknown> = {
    benchmark: "controlplane",
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg() },
    targets: TARGET,
  };
  const rows: Row[] = [];
  const serve = await startServe({
    args: ["--instances.deployment.type=local", "--max_sandboxes", "100000"],
  });
  const client = new ControlPlaneClient({ url: serve.url, apiKey: serve.apiKey, timeoutMs: 300_000 });
  try {
    let dockerReason: string | undefined;
    try {
      await pingEngine(sharedDockerClient(), 5000);
    } catch (err) {
      dockerReason = `no Docker engine: ${(err as Error).message}`;
    }
    const dockerConfig =
      dockerReason === undefined
        ? await Promise.all([ensureBusyboxImage(sharedDockerClient()), buildBundle()]).then(
            ([image, bundle]) => ({
              image,
              pull: "never" as const,
              runtime_mount: bundle.dir,
              startup_timeout: 120,
            }),
          )
        : undefined;
    if (!skip.has("a")) {
      const local = await createToRunning(serve, client, n, { type: "local" }, async () => {
        const d = await directLocal();
        return d.stop;
      });
      result.a_local = local;
      rows.push(createRow("local", local));
      if (dockerConfig) {
        const config = dockerConfig;
        const docker = await createToRunning(serve, client, n, { type: "docker", ...config }, async () => {
          const d = new DockerDeployment(config, { onProgress: () => {} });
          await d.start();
          return () => d.stop();
        });
        result.a_docker = docker;
        rows.push(createRow("docker", docker));
      } else {
        result.a_docker = { skipped: dockerReason };
      }
    }
    if (!skip.has("b")) {
      const b = dockerConfig
        ? await passThrough(serve, client, calls, { type: "docker", ...dockerConfig }, async () => {
            const d = new DockerDeployment(dockerConfig, { onProgress: () => {} });
            await d.start();
            return { runtime: d.runtime as RemoteRuntime, stop: () => d.stop() };
          })
        : await passThrough(serve, client, calls, { type: "local" }, directLocal);
      result.b = b;
      rows.push({
        row: `(b) run_in_session echo hi p50 (${b.sandbox})`,
        measured: `${b.service.p50_ms} ms pass-through (${b.service_cpu_ms_per_call} ms service CPU/call)`,
        baseline: `${b.direct.p50_ms} ms direct`,
        ratio_or_delta: `+${roundTo(b.service.p50_ms - b.direct.p50_ms, 3)} ms`,
        target: `<= +${TARGET.passthrough_added_p50_ms} ms`,
      });
    }
    if (!skip.has("c")) {
      const c = await registryReads(serve, client, records, calls);
      result.c = c;
      rows.push({
        row: `(c) GET /v1/sandboxes/{id} p50, ${c.records} records`,
        measured: `${c.get.p50_ms} ms (list of 100: ${c.list_page_of_100.p50_ms} ms)`,
        baseline: "-",
        ratio_or_delta: `RSS ${c.service_rss_mb} MB`,
        target: `<= ${TARGET.get_p50_ms} ms`,
      });
    }
  } finally {
    await serve.stop();
  }
  if (!skip.has("d")) {
    try {
      const d = await agsThroughService(opts.quick ? 40 : 100);
      result.d = d;
      rows.push({
        row: `(d) ${d.creates} concurrent AGS creates, wall`,
        measured: `${d.wall_ms} ms`,
        baseline: `${d.rate_limit_floor_ms} ms floor`,
        ratio_or_delta: `${d.wall_vs_floor}x`,
        target: `<= ${TARGET.ags_vs_floor}x`,
      });
    } catch (err) {
      result.d = { failed: (err as Error).message };
      rows.push({
        row: "(d) AGS creates",
        measured: `failed: ${(err as Error).message.split("\n")[0]}`,
        baseline: "",
        ratio_or_delta: "",
        target: "",
      });
    }
  }
  result.rows = rows;
  const table = [
    ["row", "measured", "baseline", "ratio / delta", "target"],
    ...rows.map((r) => [r.row, r.measured, r.baseline, r.ratio_or_delta, r.target]),
  ];
  const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  for (const r of table)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `controlplane-${String(result.when).replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
  return result;
}
