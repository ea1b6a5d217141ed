/**
 * ModelProxy overhead per call: the same agent requests sent (a) straight to a local OpenAI-compatible
 * upstream and (b) through `swerex proxy` (its own process, `openai` policy, one session per simulated
 * agent), in the same run, interleaved, at 1, 100 and 1000 concurrent sessions. Added latency = proxied
 * minus direct, at p50 and p99. The upstream sleeps `gen_delay_ms` per call to stand in for generation, so
 * the offered load (sessions / delay) stays what an RL rollout produces instead of saturating two cores,
 * with session starts spread over one generation time (a running batch, not a lockstep burst);
 * informational scenarios show heavier load and the saturated case (no generation time) for reference.
 *
 * `npm run bench -- proxy`, or `npx tsx bench/proxy.ts [--quick]`. JSON goes to bench/results/proxy-<time>.json.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Pool } from "undici";
import { cpuMs, spawnReady, stop } from "./lib/proc.js";
import { type LatencyStats, latencyStats, roundTo } from "./lib/stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { p50_ms: 1, p99_ms: 5 };

interface Scenario {
  sessions: number;
  gen_delay_ms: number;
  /** Measured calls per session per phase. */
  calls_per_session: number;
  /** Informational (saturated) scenarios are not held to the target. */
  informational?: boolean;
}

type Stats = LatencyStats;

export interface ScenarioResult extends Scenario {
  direct: Stats;
  proxy: Stats;
  added_p50_ms: number;
  added_p99_ms: number;
  proxied_calls_per_s: number;
  /** CPU time of the proxy process per proxied call (user + system): independent of how busy the machine is. */
  proxy_cpu_us_per_call: number;
  meets_target: boolean | null;
}

export interface ProxyBenchResult {
  name: "proxy";
  date: string;
  node: string;
  cpus: number;
  /** 1-minute load average when the run started: other work on the machine skews tail latencies. */
  loadavg_at_start: number;
  target: typeof TARGET;
  request_bytes: number;
  scenarios: ScenarioResult[];
}

// Held to the target: 200 calls/s offered at 100 and 1000 sessions (a SWE agent turn = seconds of
// generation plus tool time). Informational: 1000 calls/s, and fully saturated (no generation time).
const FULL: Scenario[] = [
  { sessions: 1, gen_delay_ms: 0, calls_per_session: 1000 },
  { sessions: 100, gen_delay_ms: 500, calls_per_session: 10 },
  { sessions: 1000, gen_delay_ms: 5000, calls_per_session: 3 },
  { sessions: 1000, gen_delay_ms: 1000, calls_per_session: 3, informational: true },
  { sessions: 1000, gen_delay_ms: 0, calls_per_session: 2, informational: true },
];
const QUICK: Scenario[] = [
  { sessions: 1, gen_delay_ms: 0, calls_per_session: 300 },
  { sessions: 100, gen_delay_ms: 500, calls_per_session: 3 },
  { sessions: 1000, gen_delay_ms: 5000, calls_per_session: 1 },
];

/** A SWE-agent-sized request: system prompt, a few turns with tool output, one tool. */
function agentRequest(delayMs: number): string {
  const observation = "drwxr-xr-x 1 root root 4096 src/\n".repeat(60);
  return JSON.stringify({
    model: "openai/verl-model",
    temperature: 0.7,
    max_tokens: 1024,
    fake_delay_ms: delayMs,
    tools: [
      {
        type: "function",
        function: {
          name: "bash",
          description: "Run a bash command in the repository",
          parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
        },
      },
    ],
    messages: [
      { role: "system", content: "You are a software engineering agent. ".repeat(40) },
      { role: "user", content: "Fix the failing test in astropy/modeling. ".repeat(20) },
      { role: "assistant", content: "Let me look at the repository." },
      { role: "user", content: observation },
      { role: "assistant", content: "Now I will open the failing file." },
      { role: "user", content: observation },
    ],
  });
}

const stats = (samples: number[]): Stats => latencyStats(samples, 3);
const round = (x: number): number => roundTo(x, 3);

/**
 * `sessions` agents, each making `calls` sequential calls to `pathFor(i)`; returns per-call latencies (ms).
 * Agent i starts `i / sessions * staggerMs` late, so arrivals are spread evenly over a generation time as
 * in a running batch, rather than 1000 calls landing in the same millisecond every round.
 */
async function phase(
  pool: Pool,
  pathFor: (i: number) => string,
  sessions: number,
  calls: number,
  body: string,
  staggerMs = 0,
) {
  const latencies: number[] = [];
  const one = async (path: string, keep: boolean) => {
    const t0 = performance.now();
    const res = await pool.request({
      path,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.body.text();
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${path}: ${text.slice(0, 200)}`);
    if (keep) latencies.push(ms);
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, i) => {
      if (staggerMs > 0) await new Promise((r) => setTimeout(r, (i / sessions) * staggerMs));
      await one(pathFor(i), false); // warm-up: connection setup is not per-call overhead
      for (let c = 0; c < calls; c++) await one(pathFor(i), true);
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

export async function run(
  opts: { quick?: boolean; log?: (line: string) => void } = {},
): Promise<ProxyBenchResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scenarios = opts.quick ? QUICK : FULL;
  const loadAtStart = round(loadavg()[0] ?? 0);
  const upstream = await spawnReady(["test/rollout/proxy/fake-upstream.ts"], /PORT (\d+)/);
  const upstreamUrl = `http://127.0.0.1:${upstream.match}`;
  let proxyChild: ChildProcess | undefined;
  const pools: Pool[] = [];
  try {
    const proxy = await spawnReady(
      [
        "src/cli/swerex.ts",
        "proxy",
        "--port=0",
        "--log_level=warn",
        "--max_steps=100000000",
        "--policy.type=openai",
        `--policy.base_url=${upstreamUrl}/v1`,
        "--policy.max_connections=2048",
      ],
      /OPENAI_BASE_URL=(\S+)/,
    );
    proxyChild = proxy.child;
    const proxyUrl = new URL(proxy.match).origin;
    const maxSessions = Math.max(...scenarios.map((s) => s.sessions));
    const direct = new Pool(upstreamUrl, { connections: maxSessions, keepAliveTimeout: 60_000 });
    const viaProxy = new Pool(proxyUrl, { connections: maxSessions, keepAliveTimeout: 60_000 });
    pools.push(direct, viaProxy);

    // JIT warm-up of both paths (and of the proxy process): the first thousands of calls run unoptimised code.
    const warm = agentRequest(0);
    for (let i = 0; i < 2; i++) {
      await phase(direct, () => "/v1/chat/completions", 10, 150, warm);
      await phase(viaProxy, (w) => `/sessions/warmup-${w}/v1/chat/completions`, 10, 150, warm);
    }

    const results: ScenarioResult[] = [];
    for (const sc of scenarios) {
      const body = agentRequest(sc.gen_delay_ms);
      const d: number[] = [];
      const p: number[] = [];
      let proxiedSeconds = 0;
      // Interleaved rounds, so machine noise (2 shared cores) hits both sides alike.
      const cpu0 = cpuMs(proxy.child.pid);
      for (let r = 0; r < 2; r++) {
        const stagger = sc.gen_delay_ms;
        const a = await phase(
          direct,
          () => "/v1/chat/completions",
          sc.sessions,
          sc.calls_per_session,
          body,
          stagger,
        );
        const b = await phase(
          viaProxy,
          (i) => `/sessions/bench-${sc.sessions}-${i}/v1/chat/completions`,
          sc.sessions,
          sc.calls_per_session,
          body,
          stagger,
        );
        d.push(...a.latencies);
        p.push(...b.latencies);
        proxiedSeconds += b.seconds;
      }
      // Proxy CPU over the proxied phases and (unavoidably) its idle time in the direct ones, per proxied call.
      const proxyCpuUs = Math.round(
        ((cpuMs(proxy.child.pid) - cpu0) * 1000) / ((sc.calls_per_session + 1) * sc.sessions * 2),
      );
      const ds = stats(d);
      const ps = stats(p);
      const added50 = round(ps.p50_ms - ds.p50_ms);
      const added99 = round(ps.p99_ms - ds.p99_ms);
      const r: ScenarioResult = {
        ...sc,
        direct: ds,
        proxy: ps,
        added_p50_ms: added50,
        added_p99_ms: added99,
        proxied_calls_per_s: Math.round(p.length / proxiedSeconds),
        proxy_cpu_us_per_call: proxyCpuUs,
        meets_target: sc.informational ? null : added50 <= TARGET.p50_ms && added99 <= TARGET.p99_ms,
      };
      results.push(r);
      log(
        `sessions=${String(sc.sessions).padStart(4)} gen=${String(sc.gen_delay_ms).padStart(4)}ms  ` +
          `direct p50/p99=${ds.p50_ms.toFixed(2)}/${ds.p99_ms.toFixed(2)}  proxy p50/p99=${ps.p50_ms.toFixed(2)}/${ps.p99_ms.toFixed(2)}  ` +
          `added p50=${added50.toFixed(2)} p99=${added99.toFixed(2)} ms  ${r.proxied_calls_per_s} calls/s  ` +
          `proxy CPU ${proxyCpuUs} us/call  ` +
          `${r.meets_target === null ? "(informational)" : r.meets_target ? "MEETS target" : "MISSES target"}`,
      );
    }
    const result: ProxyBenchResult = {
      name: "proxy",
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadavg_at_start: loadAtStart,
      target: TARGET,
      request_bytes: Buffer.byteLength(agentRequest(0)),
      scenarios: results,
    };
    mkdirSync(join(ROOT, "bench/results"), { recursive: true });
    const file = join(ROOT, `bench/results/proxy-${result.date.replaceAll(":", "-").replace(".", "-")}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${file}`);
    return result;
  } finally {
    await Promise.all(pools.map((pl) => pl.close()));
    if (proxyChild) await stop(proxyChild);
    await stop(upstream.child);
  }
}

export default run;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run({ quick: process.argv.includes("--quick") }).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench proxy: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
