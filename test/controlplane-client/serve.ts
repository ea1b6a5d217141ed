/**
 * A real `swerex serve` for client tests and the benchmark: its own process (spawned from the sources like
 * a user would), its own data directory and API key, on a free loopback port. `stop()` sends SIGTERM (or the
 * signal given), waits for the exit and removes the data directory.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSwerex } from "../helpers/cli.js";

export interface RunningServe {
  url: string;
  apiKey: string;
  pid: number;
  dataDir: string;
  /** Everything the service printed so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartServeOptions {
  /** Extra flags, e.g. `--instances.deployment.type=local`. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** How long the service may take to print where it listens. */
  timeoutMs?: number;
}

const LISTEN_URL = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+/;

export async function startServe(opts: StartServeOptions = {}): Promise<RunningServe> {
  const dataDir = await mkdtemp(join(tmpdir(), "swerex-serve-"));
  const apiKey = `sk-test-${randomUUID()}`;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const proc = spawnSwerex(
    ["serve", "--host", "127.0.0.1", "--port", "0", "--data_dir", dataDir, ...(opts.args ?? [])],
    {
      env: { ...process.env, SWEREX_API_KEYS: apiKey, ...opts.env },
      // The service runs for the whole test file; the helper's own kill timer must not end it.
      timeoutMs: 60 * 60_000,
    },
  );
  proc.done.catch(() => undefined);
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill(signal);
      const killer = setTimeout(() => proc.child.kill("SIGKILL"), 30_000);
      await proc.exited;
      clearTimeout(killer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = LISTEN_URL.exec(proc.output());
    if (m) return { url: m[0], apiKey, pid: proc.child.pid as number, dataDir, output: proc.output, stop };
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(`swerex serve did not start (exit ${proc.child.exitCode}):\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
