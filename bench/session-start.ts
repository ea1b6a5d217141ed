/**
 * Bash session start-up under CPU load: how many session starts fail within the default `startup_timeout`
 * (1.0 s), ours against an upstream-like baseline measured in the same run, under the same load.
 *
 * Baseline: what SWE-ReX 1.4's `BashSession.start()` does (spec 5.2), on the same node-pty: spawn an
 * interactive bash with `PS1=SHELLPS1PREFIX PS2= PS0=` and echo off, sleep 0.3 s, send the
 * `export PS1=...` line, then expect the prompt within `startup_timeout` (the clock starts after the pause).
 * Ours: `LocalRuntime.createSession` (the clock covers the spawn too, plus upstream's 0.3 s, see
 * bash-session.ts). Also reported: how many of our starts took longer than `startup_timeout` from the
 * call, i.e. would have failed with the clock as it was before (started before the spawn, no 0.3 s).
 *
 * Load: `--hogs N` busy-loop processes (default 1, "the other core"), and `--concurrent C` sessions
 * started at once per round (default 8, as when many agents create sessions together), `--rounds R`.
 * Both variants alternate round by round, so they see the same load. Sessions start with an empty HOME,
 * as in a sandbox image (`--real-home` reads this machine's ~/.bashrc, which may run pyenv and the like);
 * `--bashrc-loop K` gives that HOME a ~/.bashrc that spins K times (100000 is ~0.25 s of one idle core),
 * the CPU-bound kind of start-up file (conda, pyenv) that makes sessions miss the 1.0 s.
 *
 * `npm run bench -- session-start [--quick] [--hogs N] [--concurrent C] [--rounds R] [--startup-timeout S] [--real-home]
 *  [--bashrc-loop K]`.
 * JSON goes to bench/results/session-start-<timestamp>.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pty from "node-pty";
import { PexpectTimeoutError } from "../src/runtime/errors.js";
import { findBash, LocalRuntime } from "../src/runtime/local/index.js";
import { PS1 } from "../src/runtime/local/terminal-text.js";
import { type LatencyStats, latencyStats, quantile, roundTo } from "./lib/stats.js";
import type { BenchOptions } from "./run.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Upstream's pause between the spawn and the start of the `startup_timeout` clock. */
const UPSTREAM_PAUSE_MS = 300;

interface VariantResult {
  starts: number;
  failed: number;
  /** Only ours: starts that took longer than startup_timeout from the call (the clock before this change). */
  over_timeout_from_call?: number;
  latency: LatencyStats & { p90_ms: number; max_ms: number };
}

export interface SessionStartBenchResult {
  name: "session-start";
  date: string;
  cpus: number;
  loadavg_at_start: number;
  hogs: number;
  concurrent: number;
  rounds: number;
  startup_timeout_s: number;
  empty_home: boolean;
  bashrc_loop: number;
  ours: VariantResult;
  upstream_like: VariantResult;
}

function numArg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v >= 0 ? v : dflt;
}

function summarize(samples: number[], failed: number): VariantResult {
  const xs = [...samples].sort((a, b) => a - b);
  return {
    starts: samples.length,
    failed,
    latency: {
      ...latencyStats(xs, 1),
      p90_ms: roundTo(quantile(xs, 0.9), 1),
      max_ms: roundTo(xs.at(-1) ?? 0, 1),
    },
  };
}

/** One upstream-like start; resolves with its time from spawn to prompt, or null when it missed the deadline. */
function upstreamLikeStart(
  bash: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<number | null> {
  const t0 = performance.now();
  // pexpect's echo=False turns echo off before bash starts; `stty` then `exec` does the same on node-pty.
  const p = pty.spawn(bash, ["-c", 'stty -echo 2>/dev/null; exec -a bash "$0" -i', bash], {
    name: "dumb",
    cols: 80,
    rows: 24,
    cwd: process.cwd(),
    env: { ...env, PS1, PS2: "", PS0: "", TERM: "dumb" },
  });
  let out = "";
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (ms: number | null) => {
      clearTimeout(timer);
      sub.dispose();
      // SIGHUP, not SIGKILL: a shell killed mid-.bashrc must still run its EXIT traps (pyenv's rehash
      // lock stays behind otherwise, and every later shell waits 60 s for it).
      p.kill("SIGHUP");
      resolve(ms);
    };
    let armed = false;
    const sub = p.onData((d) => {
      out += d;
      if (armed && out.includes(PS1)) finish(performance.now() - t0);
    });
    setTimeout(() => {
      // As pexpect: the prompt may already sit in the buffer (bash printed its first one from the env's PS1).
      p.write(`export PS1='${PS1}' ; export PS2='' ; export PS0=''\n`);
      armed = true;
      if (out.includes(PS1)) return finish(performance.now() - t0);
      timer = setTimeout(() => finish(null), timeoutMs);
    }, UPSTREAM_PAUSE_MS);
  });
}

/** One start of ours; the runtime is closed by the caller after the whole batch, so no close competes with a start. */
async function oursStart(rt: LocalRuntime, timeoutS: number, id: number): Promise<number | null> {
  const t0 = performance.now();
  try {
    await rt.createSession({ session: `s${id}`, startup_timeout: timeoutS });
    return performance.now() - t0;
  } catch (e) {
    if (e instanceof PexpectTimeoutError) return null;
    throw e;
  }
}

function startHogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
}

export default async function sessionStartBench(opts: BenchOptions): Promise<SessionStartBenchResult> {
  const hogs = numArg(opts.args, "--hogs", 1);
  const concurrent = numArg(opts.args, "--concurrent", 8);
  const rounds = numArg(opts.args, "--rounds", opts.quick ? 3 : 10);
  const timeoutS = numArg(opts.args, "--startup-timeout", 1.0);
  const emptyHome = !opts.args.includes("--real-home");
  const bash = findBash();
  const home = emptyHome ? mkdtempSync(join(tmpdir(), "swerex-bench-home-")) : undefined;
  const savedHome = process.env.HOME;
  if (home) process.env.HOME = home;
  const bashrcLoop = numArg(opts.args, "--bashrc-loop", 0);
  if (home && bashrcLoop > 0) {
    writeFileSync(join(home, ".bashrc"), `for ((i=0;i<${bashrcLoop};i++)); do :; done\n`);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;

  const loadAtStart = loadavg()[0] ?? 0;
  const procs = startHogs(hogs);
  const ours: number[] = [];
  const base: number[] = [];
  let oursFailed = 0;
  let baseFailed = 0;
  let oursOver = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ["ours", "base"] : ["base", "ours"];
      for (const which of order) {
        const rt = new LocalRuntime();
        const results = await Promise.all(
          Array.from({ length: concurrent }, (_, i) =>
            which === "ours" ? oursStart(rt, timeoutS, i) : upstreamLikeStart(bash, env, timeoutS * 1000),
          ),
        );
        await rt.close();
        for (const ms of results) {
          if (which === "ours") {
            if (ms === null) oursFailed++;
            else {
              ours.push(ms);
              if (ms > timeoutS * 1000) oursOver++;
            }
          } else if (ms === null) baseFailed++;
          else base.push(ms);
        }
      }
    }
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    if (home) {
      if (savedHome === undefined) delete process.env.HOME;
      else process.env.HOME = savedHome;
      rmSync(home, { recursive: true, force: true });
    }
  }

  const result: SessionStartBenchResult = {
    name: "session-start",
    date: new Date().toISOString(),
    cpus: cpus().length,
    loadavg_at_start: roundTo(loadAtStart, 2),
    hogs,
    concurrent,
    rounds,
    startup_timeout_s: timeoutS,
    empty_home: emptyHome,
    bashrc_loop: bashrcLoop,
    ours: { ...summarize(ours, oursFailed), over_timeout_from_call: oursOver },
    upstream_like: summarize(base, baseFailed),
  };
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `session-start-${result.date.replaceAll(":", "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const row = (name: string, v: VariantResult) =>
    `| ${name} | ${v.starts + v.failed} | ${v.failed} | ${v.latency.p50_ms} | ${v.latency.p90_ms} | ${v.latency.max_ms} |`;
  console.log(
    `session start: ${hogs} CPU hog(s), ${concurrent} sessions at once x ${rounds} rounds, ` +
      `startup_timeout ${timeoutS} s, .bashrc loop ${bashrcLoop}, load ${result.loadavg_at_start} at start, ${result.cpus} cpus`,
  );
  console.log("| variant | starts | failed | p50 ms | p90 ms | max ms |");
  console.log("|---|---|---|---|---|---|");
  console.log(row("ours", result.ours));
  console.log(row("upstream-like", result.upstream_like));
  console.log(
    `ours: ${oursOver} start(s) took longer than startup_timeout from the call (would have failed with the old clock); ` +
      `failure ratio ours/upstream-like: ${baseFailed === 0 ? (oursFailed === 0 ? "0/0" : "inf") : roundTo(oursFailed / baseFailed, 2)}`,
  );
  console.log(`JSON: ${file}`);
  return result;
}
