/**
 * Starts `swerex-remote` as a separate process on this machine and learns its port from the one line it
 * prints when listening. Tests, benchmarks, the AGS emulator and the rollout layer use it to get a real
 * server over real HTTP; `stop()` kills the whole process group, so no shell survives it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join, sep } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startTimer } from "../runtime/timer.js";
import { connectableHost, formatHttpUrl } from "./start.js";

export interface SpawnRuntimeServerOptions {
  authToken: string;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 0: the server picks a free port and reports it. */
  port?: number;
  /** Added to this process's environment (or, with `inheritEnv: false`, the whole environment). */
  env?: Record<string, string>;
  /** Default true. False: the server sees only `env` (a sandbox must not see this process's secrets). */
  inheritEnv?: boolean;
  cwd?: string;
  /** How long to wait for the "listening" line. Default 30 000. */
  timeoutMs?: number;
}

export interface SpawnedRuntimeServer {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM to the process group, SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
}

const LISTENING_LINE = /^swerex-remote listening on http:\/\/(.+):(\d+)\s*$/;
const STDERR_TAIL_BYTES = 16 * 1024;
const STOP_GRACE_MS = 5_000;

/** The command that runs the CLI: the built file next to us when we run from dist/, else the sources via tsx. */
export function runtimeServerCommand(): { file: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
  const built = join(repoRoot, "dist", "cli", "swerex-remote.js");
  if (here.includes(`${sep}dist${sep}`) && existsSync(built))
    return { file: process.execPath, args: [built] };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return {
    file: process.execPath,
    args: ["--import", tsx, join(repoRoot, "src", "cli", "swerex-remote.ts")],
  };
}

/** Servers still running; if this process exits without stopping them, they are killed with it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const c of running) killGroup(c, "SIGKILL");
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function spawnRuntimeServerProcess(
  opts: SpawnRuntimeServerOptions,
): Promise<SpawnedRuntimeServer> {
  const host = opts.host ?? "127.0.0.1";
  const { file, args } = runtimeServerCommand();
  const child = spawn(
    file,
    [...args, "--host", host, "--port", String(opts.port ?? 0), "--auth-token", opts.authToken],
    {
      cwd: opts.cwd,
      env: opts.inheritEnv === false ? { ...opts.env } : { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stop() reaches every shell the server started.
      detached: true,
    },
  );
  track(child);

  let stderrTail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (!exited(child)) {
      killGroup(child, "SIGTERM");
      const grace = new Promise<"late">((resolve) =>
        startTimer(STOP_GRACE_MS, () => resolve("late"), { unref: true }),
      );
      if ((await Promise.race([exit, grace])) === "late") {
        killGroup(child, "SIGKILL");
        await exit;
      }
    }
    // Anything the server left in its group (it should have killed its shells itself).
    killGroup(child, "SIGKILL");
    running.delete(child);
  };

  const timeoutMs = opts.timeoutMs ?? 30_000;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      const timer = startTimer(timeoutMs, () =>
        reject(
          new Error(`swerex-remote did not report listening within ${timeoutMs} ms. stderr:\n${stderrTail}`),
        ),
      );
      lines.on("line", (line) => {
        const match = LISTENING_LINE.exec(line);
        if (!match) return;
        timer.cancel();
        resolve(Number(match[2]));
      });
      child.once("error", (err) => {
        timer.cancel();
        reject(err);
      });
      child.once("exit", (code, signal) => {
        timer.cancel();
        reject(
          new Error(
            `swerex-remote exited (${signal ?? `code ${code}`}) before listening. stderr:\n${stderrTail}`,
          ),
        );
      });
    });
    return { url: formatHttpUrl(connectableHost(host), port), port, pid: child.pid as number, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
