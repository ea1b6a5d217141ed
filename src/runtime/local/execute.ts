/**
 * `Runtime.execute`: a one-off process, like upstream's `subprocess.run` (stdin from /dev/null, `env`
 * replacing the environment, `merge_output_streams` as `stderr=STDOUT`, output decoded with
 * `backslashreplace`), with two fixes: a timeout kills the whole process group, not only the direct child,
 * and the output produced until then travels with the `CommandTimeoutError` (`extraInfo.stdout/stderr`).
 *
 * Output goes to temporary files rather than pipes: one file for both streams keeps their interleaving
 * exact when merged, and the call returns when the process exits even if a background grandchild still
 * holds the output open (upstream's pipes wait for it).
 */
import { spawn } from "node:child_process";
import { open, rm, stat } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import { CommandTimeoutError, NonZeroExitCodeError, PythonValueError, SwerexError } from "../errors.js";
import type { Command, CommandResponse } from "../protocol.js";
import { startTimer, type Timer } from "../timer.js";
import { decodeBytes } from "./codec.js";
import { asOsError, osError } from "./os-error.js";
import { DEFAULT_MAX_OUTPUT_CHARS, truncationNote } from "./pty-expect.js";
import { pyFloat, pyRepr } from "./pyrepr.js";
import { makeOwnedTempDir } from "./temp-dirs.js";

/** After SIGKILL to the group, how long to wait for the exit to be reported. */
const REAP_MS = 5_000;

export interface ExecuteOptions {
  /** Aborting kills the process group (used when the runtime closes). */
  signal?: AbortSignal;
  /**
   * Most bytes of each stream returned: the first and last halves, the middle replaced by a note (default
   * DEFAULT_MAX_OUTPUT_CHARS). The command's own output file is not capped; only what is read back is.
   */
  maxOutputBytes?: number;
}

/** A stream's output read back within the bound, and how many bytes were left out. */
async function readBounded(path: string, limit: number): Promise<{ text: string; dropped: number }> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const decode = (b: Buffer) => decodeBytes(b, "utf-8", "backslashreplace");
    if (size <= limit) return { text: decode(await fh.readFile()), dropped: 0 };
    const half = Math.floor(limit / 2);
    const head = Buffer.alloc(half);
    const tail = Buffer.alloc(half);
    await fh.read(head, 0, half, 0);
    await fh.read(tail, 0, half, size - half);
    const dropped = size - 2 * half;
    return { text: decode(head) + truncationNote(dropped, limit, "bytes") + decode(tail), dropped };
  } finally {
    await fh.close();
  }
}

function argvOf(cmd: Command): string[] {
  const parts = typeof cmd.command === "string" ? [cmd.command] : [...cmd.command];
  // Python: with shell=True, a list is ["/bin/sh", "-c", *list]; without, a string is the program name.
  const argv = cmd.shell ? ["/bin/sh", "-c", ...parts] : parts;
  if (argv.length === 0 || argv[0] === undefined) throw new PythonValueError("execute: empty command");
  return argv;
}

async function checkCwd(cwd: string | null): Promise<void> {
  if (cwd === null) return;
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(cwd);
  } catch (e) {
    throw asOsError(e, cwd);
  }
  if (!s.isDirectory()) throw osError("ENOTDIR", cwd);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0;
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // the group is already gone
  }
}

type Outcome = { kind: "exit"; code: number } | { kind: "timeout" } | { kind: "aborted" };

export async function executeCommand(cmd: Command, opts: ExecuteOptions = {}): Promise<CommandResponse> {
  const argv = argvOf(cmd);
  await checkCwd(cmd.cwd);
  const dir = await makeOwnedTempDir("swerex-exec-");
  try {
    const outPath = join(dir, "stdout");
    const errPath = join(dir, "stderr");
    const out = await open(outPath, "w+");
    const err = cmd.merge_output_streams ? out : await open(errPath, "w+");
    let outcome: Outcome;
    try {
      const child = spawn(argv[0] as string, argv.slice(1), {
        cwd: cmd.cwd ?? undefined,
        env: cmd.env ?? process.env,
        stdio: ["ignore", out.fd, err.fd],
        // Its own process group, so a timeout can kill everything the command started.
        detached: true,
      });
      outcome = await new Promise<Outcome>((resolve, reject) => {
        let timer: Timer | undefined;
        const onAbort = () => {
          killGroup(child.pid);
          finish({ kind: "aborted" });
        };
        const finish = (o: Outcome) => {
          timer?.cancel();
          opts.signal?.removeEventListener("abort", onAbort);
          resolve(o);
        };
        child.once("error", (e) => {
          timer?.cancel();
          opts.signal?.removeEventListener("abort", onAbort);
          reject(asOsError(e, argv[0] as string));
        });
        child.once("exit", (code, signal) => finish({ kind: "exit", code: code ?? -signalNumber(signal) }));
        if (cmd.timeout !== null) {
          timer = startTimer(cmd.timeout * 1000, () => {
            killGroup(child.pid);
            finish({ kind: "timeout" });
          });
        }
        if (opts.signal?.aborted) onAbort();
        else opts.signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (outcome.kind !== "exit") {
        // Reap the killed child, so no zombie is left behind; bounded in case it is stuck in the kernel.
        await new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const t = startTimer(REAP_MS, resolve);
          child.once("exit", () => {
            t.cancel();
            resolve();
          });
        });
      }
    } finally {
      await out.close();
      if (err !== out) await err.close();
    }
    const limit = Math.max(2, opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_CHARS);
    const out_ = await readBounded(outPath, limit);
    const err_ = cmd.merge_output_streams ? { text: "", dropped: 0 } : await readBounded(errPath, limit);
    const stdout = out_.text;
    const stderr = err_.text;
    const truncated =
      out_.dropped + err_.dropped > 0
        ? { output_truncated: true, stdout_dropped_bytes: out_.dropped, stderr_dropped_bytes: err_.dropped }
        : undefined;
    if (outcome.kind === "timeout") {
      throw new CommandTimeoutError(
        `Timeout (${pyFloat(cmd.timeout as number)}s) exceeded while running command`,
        {
          extraInfo: { stdout, stderr, ...truncated },
        },
      );
    }
    if (outcome.kind === "aborted") {
      throw new SwerexError("execute aborted: the runtime was closed", {
        extraInfo: { stdout, stderr, ...truncated },
      });
    }
    const exitCode = outcome.code;
    if (cmd.check && exitCode !== 0) {
      let msg = `Command ${pyRepr(cmd.command)} failed with exit code ${exitCode}. Stdout:\n${pyRepr(stdout)}\nStderr:\n${pyRepr(stderr)}`;
      if (cmd.error_msg) msg = `${cmd.error_msg}: ${msg}`;
      throw new NonZeroExitCodeError(msg, {
        extraInfo: { stdout, stderr, exit_code: exitCode, ...truncated },
      });
    }
    return truncated
      ? { stdout, stderr, exit_code: exitCode, extra_info: truncated }
      : { stdout, stderr, exit_code: exitCode };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
