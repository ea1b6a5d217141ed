/** Runs our `swerex` CLI from the sources (tsx, cwd = repo root), as a user would, and collects its output. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ROOT = join(import.meta.dirname, "../..");

/**
 * Spawns `swerex <args>`; `exited` settles with its exit code as soon as the process exits, `done` once its
 * output streams have closed too; `output()` is everything it printed so far (stdout and stderr interleaved). A process still running after `timeoutMs` is killed
 * and `done` rejects, naming the command and its stderr so far.
 */
export function spawnSwerex(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): { child: ChildProcess; done: Promise<CliResult>; exited: Promise<number | null>; output(): string } {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/swerex.ts", ...args], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let both = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    both += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    both += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`swerex ${args.join(" ")} did not exit within ${timeoutMs / 1000}s; stderr: ${stderr}`),
      );
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, exited, output: () => both };
}

/**
 * Waits until `proc` has printed something matching `pattern` and returns the match; throws (with what
 * it printed) if the process exits first or `timeoutMs` passes.
 */
export async function waitForOutput(
  proc: { child: ChildProcess; output(): string },
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(proc.output());
    if (m) return m;
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      throw new Error(`no output matching ${pattern} (exit code ${proc.child.exitCode}): ${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
