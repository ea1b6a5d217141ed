/**
 * Runtime over HTTP: RemoteRuntime against a real `swerex-remote` process on loopback, in one run:
 *   (a) sequential run_in_session `echo hi`       (b) execute `true`
 *   (c) write + read of 100 KB                    (d) 16 sessions in parallel, ratio to (a)
 *   (e) /is_alive while another session runs `sleep 2`, against idle /is_alive
 * plus baselines measured in the same run: LocalRuntime in this process (no HTTP) for (a) and (b), so the
 * HTTP layer's share is visible; (a) with a command that needs the `bash -n` check (`echo "hi"`: plain
 * words skip it, see src/runtime/local/bash-plain.ts); a `bash -n` spawned from Node (how every command
 * used to be checked); idle /is_alive for (e). For (d), the CPU time per operation of the server process,
 * of its session shells (children included) and of this client process, from /proc and
 * `process.cpuUsage()`: on 2 cores, total CPU per operation bounds the parallel throughput.
 *
 * Sessions start with HOME set to an empty directory, as in a sandbox image: interactive bash reads
 * ~/.bashrc, and a developer's (pyenv's PROMPT_COMMAND hook, for one) costs milliseconds per prompt. (a) is
 * also measured once with this machine's real HOME, for reference.
 *
 * `npm run bench -- runtime [--quick]`, or `npx tsx bench/runtime.ts [--quick]`.
 * JSON goes to bench/results/runtime-<timestamp>.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkBashCommand, LocalRuntime } from "../src/runtime/local/index.js";
import { RemoteRuntime } from "../src/runtime/remote.js";
import type { Runtime } from "../src/runtime/runtime.js";
import { spawnRuntimeServerProcess } from "../src/server/spawn.js";
import { type LatencyStats, latencyStats, roundTo } from "./lib/stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = { echo_p50_ms: 3, parallel_ratio: 6, is_alive_busy_p50_ms: 5 };
const STARTUP = { startup_timeout: 60 };
const TIMEOUT = 60;

interface Stats extends LatencyStats {
  ops_per_s: number;
}

export interface RuntimeBenchResult {
  name: "runtime";
  date: string;
  node: string;
  cpus: number;
  loadavg_at_start: number;
  target: typeof TARGET;
  a_echo: Stats;
  a_echo_local_baseline: Stats;
  a_bash_n_floor: Stats;
  a_echo_with_real_home: Stats;
  a_echo_checked: Stats;
  a_echo_checked_local_baseline: Stats;
  b_execute_true: Stats;
  b_execute_true_local_baseline: Stats;
  c_write_read_100kb: Stats & { mb_per_s: number };
  d_parallel: {
    sessions: number;
    ops_per_session: number;
    total_ops_per_s: number;
    ratio_to_a: number;
    cpu_ms_per_op: { server: number; session_shells: number; client: number; total: number };
  };
  e_is_alive_busy: Stats;
  e_is_alive_idle_baseline: Stats;
  meets_target: { a: boolean; d: boolean; e: boolean };
}

function stats(samples: number[], wallMs?: number): Stats {
  const sum = samples.reduce((s, x) => s + x, 0);
  return { ...latencyStats(samples), ops_per_s: roundTo((samples.length / (wallMs ?? sum)) * 1000, 3) };
}

/** Times `n` sequential calls after `warmup` untimed ones. */
async function timed(n: number, fn: () => Promise<unknown>, warmup = 10): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return stats(samples, performance.now() - start);
}

async function echoLoop(rt: Runtime, n: number, session = "default", command = "echo hi"): Promise<Stats> {
  return timed(n, async () => {
    const obs = await rt.runInSession({ session, command, timeout: TIMEOUT });
    if (obs.output !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(obs.output)}`);
  });
}

/** /proc/<pid>/stat times are in USER_HZ, which Linux fixes at 100 per second for user space. */
const TICK_MS = 10;

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU ms of process `pid` itself, and of its direct children with their reaped children (the shells). */
function processTreeCpuMs(pid: number): { self: number; children: number } {
  const f = statFields(pid);
  const self = (Number(f[11]) + Number(f[12])) * TICK_MS;
  let children = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const kids = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    for (const kid of kids) {
      try {
        const k = statFields(Number(kid));
        children += (Number(k[11]) + Number(k[12]) + Number(k[13]) + Number(k[14])) * TICK_MS;
      } catch {
        // exited meanwhile
      }
    }
  }
  return { self, children };
}

async function executeLoop(rt: Runtime, n: number): Promise<Stats> {
  return timed(n, async () => {
    const r = await rt.execute({ command: ["true"], timeout: TIMEOUT });
    if (r.exit_code !== 0) throw new Error(`true exited ${r.exit_code}`);
  });
}

/** (a) against a second server whose shells read the real HOME's startup files. */
async function echoWithHome(home: string | undefined, count: number): Promise<Stats> {
  const server = await spawnRuntimeServerProcess({ authToken: "bench", env: home ? { HOME: home } : {} });
  const remote = new RemoteRuntime({ auth_token: "bench", host: server.url, timeout: 10 });
  try {
    await remote.createSession(STARTUP);
    return await echoLoop(remote, count);
  } finally {
    await remote.close().catch(() => undefined);
    await server.stop();
  }
}

export async function run(opts: { quick?: boolean } = {}): Promise<RuntimeBenchResult> {
  const scale = opts.quick ? 0.2 : 1;
  const n = (x: number) => Math.max(10, Math.round(x * scale));
  const loadAtStart = loadavg()[0] ?? 0;
  const realHome = process.env.HOME;
  const workDir = mkdtempSync(join(tmpdir(), "swerex-bench-"));
  const home = join(workDir, "home");
  mkdirSync(home);
  const server = await spawnRuntimeServerProcess({ authToken: "bench", env: { HOME: home } });
  const remote = new RemoteRuntime({ auth_token: "bench", host: server.url, timeout: 10 });
  // LocalRuntime's shells inherit this process's environment.
  process.env.HOME = home;
  const local = new LocalRuntime();
  try {
    await remote.createSession(STARTUP);
    await local.createSession(STARTUP);

    const aEcho = await echoLoop(remote, n(500));
    const aLocal = await echoLoop(local, n(500));
    const aBashN = await timed(n(200), () => checkBashCommand("echo hi"));
    const aRealHome = await echoWithHome(realHome, n(100));
    const aChecked = await echoLoop(remote, n(300), "default", 'echo "hi"');
    const aCheckedLocal = await echoLoop(local, n(300), "default", 'echo "hi"');
    const bExec = await executeLoop(remote, n(200));
    const bLocal = await executeLoop(local, n(200));

    const content = "x".repeat(100 * 1024);
    const path = join(workDir, "bench-100kb.txt");
    const cStats = await timed(n(200), async () => {
      await remote.writeFile({ path, content });
      const r = await remote.readFile({ path });
      if (r.content.length !== content.length) throw new Error("short read");
    });
    const c = { ...cStats, mb_per_s: Math.round(((2 * 100 * cStats.ops_per_s) / 1024) * 10) / 10 };

    const sessions = 16;
    const perSession = n(100);
    const names = Array.from({ length: sessions }, (_, i) => `par${i}`);
    await Promise.all(names.map((session) => remote.createSession({ session, ...STARTUP })));
    const cpu0 = processTreeCpuMs(server.pid);
    const client0 = process.cpuUsage();
    const dStart = performance.now();
    await Promise.all(
      names.map(async (session) => {
        for (let i = 0; i < perSession; i++)
          await remote.runInSession({ session, command: "echo hi", timeout: TIMEOUT });
      }),
    );
    const dWall = performance.now() - dStart;
    const cpu1 = processTreeCpuMs(server.pid);
    const client = process.cpuUsage(client0);
    const totalOps = Math.round(((sessions * perSession) / dWall) * 1000 * 10) / 10;
    await Promise.all(names.map((session) => remote.closeSession({ session })));
    const d = {
      sessions,
      ops_per_session: perSession,
      total_ops_per_s: totalOps,
      ratio_to_a: Math.round((totalOps / aEcho.ops_per_s) * 100) / 100,
      cpu_ms_per_op: perOp(
        {
          server: cpu1.self - cpu0.self,
          session_shells: cpu1.children - cpu0.children,
          client: (client.user + client.system) / 1000,
        },
        sessions * perSession,
      ),
    };

    const eIdle = await timed(n(200), () => remote.isAlive({ timeoutMs: 5_000 }));
    await remote.createSession({ session: "sleeper", ...STARTUP });
    let sleeping = true;
    const sleeper = remote
      .runInSession({ session: "sleeper", command: "sleep 2", timeout: TIMEOUT })
      .finally(() => (sleeping = false));
    const busySamples: number[] = [];
    await new Promise((r) => setTimeout(r, 100));
    while (sleeping) {
      const t = performance.now();
      const alive = await remote.isAlive({ timeoutMs: 5_000 });
      if (sleeping) busySamples.push(performance.now() - t);
      if (!alive.is_alive) throw new Error(`is_alive failed during sleep: ${alive.message}`);
    }
    await sleeper;
    const eBusy = stats(busySamples);

    const result: RuntimeBenchResult = {
      name: "runtime",
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadavg_at_start: Math.round(loadAtStart * 100) / 100,
      target: TARGET,
      a_echo: aEcho,
      a_echo_local_baseline: aLocal,
      a_bash_n_floor: aBashN,
      a_echo_with_real_home: aRealHome,
      a_echo_checked: aChecked,
      a_echo_checked_local_baseline: aCheckedLocal,
      b_execute_true: bExec,
      b_execute_true_local_baseline: bLocal,
      c_write_read_100kb: c,
      d_parallel: d,
      e_is_alive_busy: eBusy,
      e_is_alive_idle_baseline: eIdle,
      meets_target: {
        a: aEcho.p50_ms <= TARGET.echo_p50_ms,
        d: d.ratio_to_a >= TARGET.parallel_ratio,
        e: eBusy.p50_ms <= TARGET.is_alive_busy_p50_ms,
      },
    };
    report(result);
    const out = join(ROOT, "bench", "results", `runtime-${result.date.replace(/[:.]/g, "-")}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwrote ${out}\n`);
    return result;
  } finally {
    await local.close().catch(() => undefined);
    await remote.close().catch(() => undefined);
    await server.stop();
    process.env.HOME = realHome;
    rmSync(workDir, { recursive: true, force: true });
  }
}

function perOp(
  ms: { server: number; session_shells: number; client: number },
  ops: number,
): RuntimeBenchResult["d_parallel"]["cpu_ms_per_op"] {
  const r = (x: number) => Math.round((x / ops) * 1000) / 1000;
  return {
    server: r(ms.server),
    session_shells: r(ms.session_shells),
    client: r(ms.client),
    total: r(ms.server + ms.session_shells + ms.client),
  };
}

function report(r: RuntimeBenchResult): void {
  const row = (name: string, s: Stats, extra = "") =>
    `${name.padEnd(44)} ${String(s.n).padStart(5)} ${s.p50_ms.toFixed(2).padStart(8)} ${s.p99_ms.toFixed(2).padStart(8)} ${s.ops_per_s.toFixed(1).padStart(9)}  ${extra}`;
  const ok = (b: boolean) => (b ? "meets target" : "MISSES target");
  const lines = [
    `runtime bench: node ${r.node}, ${r.cpus} cpus, load ${r.loadavg_at_start} at start`,
    `${"scenario".padEnd(44)} ${"n".padStart(5)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"ops/s".padStart(9)}`,
    row(
      "(a) run_in_session echo hi, HTTP",
      r.a_echo,
      `${ok(r.meets_target.a)} (p50 <= ${TARGET.echo_p50_ms} ms)`,
    ),
    row("    baseline: LocalRuntime in-process", r.a_echo_local_baseline),
    row("    reference: HTTP, this machine's ~/.bashrc", r.a_echo_with_real_home),
    row('    echo "hi" (takes the bash -n check), HTTP', r.a_echo_checked),
    row('    echo "hi", LocalRuntime in-process', r.a_echo_checked_local_baseline),
    row("    reference: bash -n spawned from Node", r.a_bash_n_floor),
    row("(b) execute true, HTTP", r.b_execute_true),
    row("    baseline: LocalRuntime in-process", r.b_execute_true_local_baseline),
    row("(c) write + read 100 KB, HTTP", r.c_write_read_100kb, `${r.c_write_read_100kb.mb_per_s} MB/s`),
    `${`(d) ${r.d_parallel.sessions} sessions x ${r.d_parallel.ops_per_session} echo, parallel`.padEnd(44)} ${String(r.d_parallel.sessions * r.d_parallel.ops_per_session).padStart(5)} ${"".padStart(8)} ${"".padStart(8)} ${r.d_parallel.total_ops_per_s.toFixed(1).padStart(9)}  ${r.d_parallel.ratio_to_a}x of (a): ${ok(r.meets_target.d)} (>= ${TARGET.parallel_ratio}x)`,
    `    CPU ms per op in (d): server ${r.d_parallel.cpu_ms_per_op.server}, session shells ${r.d_parallel.cpu_ms_per_op.session_shells}, client ${r.d_parallel.cpu_ms_per_op.client}, total ${r.d_parallel.cpu_ms_per_op.total} (2 cores: at most ${Math.round(2000 / r.d_parallel.cpu_ms_per_op.total)} ops/s)`,
    row(
      "(e) is_alive while a session runs sleep 2",
      r.e_is_alive_busy,
      `${ok(r.meets_target.e)} (p50 <= ${TARGET.is_alive_busy_p50_ms} ms)`,
    ),
    row("    baseline: is_alive idle", r.e_is_alive_idle_baseline),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

export default run;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run({ quick: process.argv.includes("--quick") }).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench runtime: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
