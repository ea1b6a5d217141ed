/**
 * Running bash scripts in a sandbox through any Runtime. Scripts run under `bash -c` (not a shell session) so
 * one command cannot leave state behind for the next; environment variables are exported inside the script
 * because SWE-ReX's `Command.env` replaces the whole environment (PATH included).
 */
import type { Runtime } from "../../runtime/runtime.js";

export interface ShellResult {
  output: string;
  exitCode: number | null;
}

export interface ShellOptions {
  cwd?: string;
  /** Seconds the runtime gives the command. */
  timeout: number;
  env?: Record<string, string>;
}

/** Quotes a string for bash: `it's` -> `'it'\''s'`. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function exportLines(env: Record<string, string> | undefined): string {
  if (!env) return "";
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
    .join("");
}

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${Math.round(ms / 1000)} s`);
    this.name = "DeadlineError";
  }
}

/** Rejects with `DeadlineError` if `promise` is not settled within `ms` (the promise itself is not cancelled). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Slack on top of the runtime's own timeout before we stop waiting for its answer. */
const ANSWER_SLACK_MS = 30_000;

/** Runs `script` with `bash -c`; stdout and stderr come back merged, in order. */
export async function runShell(runtime: Runtime, script: string, opts: ShellOptions): Promise<ShellResult> {
  const res = await withDeadline(
    runtime.execute({
      command: ["bash", "-c", exportLines(opts.env) + script],
      cwd: opts.cwd ?? null,
      timeout: opts.timeout,
      merge_output_streams: true,
    }),
    opts.timeout * 1000 + ANSWER_SLACK_MS,
    "sandbox command",
  );
  return { output: res.stdout + res.stderr, exitCode: res.exit_code };
}

/** Like `runShell`, but a non-zero exit becomes an error carrying the output. */
export async function runShellChecked(
  runtime: Runtime,
  script: string,
  opts: ShellOptions & { what: string },
): Promise<string> {
  const res = await runShell(runtime, script, opts);
  if (res.exitCode !== 0) {
    throw new Error(`${opts.what} failed (exit ${res.exitCode}): ${res.output.trim().slice(-2000)}`);
  }
  return res.output;
}
