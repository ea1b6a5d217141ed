/** SWE-ReX's `_check_bash_command`: `bash -n` over the command before it goes anywhere near the session. */
import { spawn } from "node:child_process";
import { BashIncorrectSyntaxError } from "../errors.js";
import { startTimer } from "../timer.js";
import { findBash } from "./bash-binary.js";
import { decodeBytes } from "./codec.js";
import { pyRepr } from "./pyrepr.js";

/** `bash -n` only parses, so this is generous; it exists so that a wedged bash cannot hang a request. */
const CHECK_DEADLINE_MS = 30_000;

interface CheckResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBashN(command: string, bash: string): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    // argv0 "bash" so that diagnostics read "bash: line 1: ..." as with upstream's `/usr/bin/env bash`.
    const child = spawn(bash, ["-n"], { argv0: "bash", stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = startTimer(CHECK_DEADLINE_MS, () => child.kill("SIGKILL"));
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      timer.cancel();
      reject(e);
    });
    child.on("close", (code) => {
      timer.cancel();
      resolve({
        code,
        stdout: decodeBytes(Buffer.concat(out), "utf-8", "backslashreplace"),
        stderr: decodeBytes(Buffer.concat(err), "utf-8", "backslashreplace"),
      });
    });
    // EPIPE if bash exits before reading everything; the exit code tells the story.
    child.stdin.on("error", () => {});
    child.stdin.end(`${command}\n`);
  });
}

/** Throws `BashIncorrectSyntaxError` (upstream's message, `extra_info.bash_stdout/bash_stderr`) if `bash -n` rejects `command`. */
export async function checkBashCommand(command: string, bash: string = findBash()): Promise<void> {
  const r = await runBashN(command, bash);
  if (r.code === 0) return;
  throw bashSyntaxError(command, r.code ?? "killed", r.stdout, r.stderr);
}

/** Upstream's error for a command `bash -n` rejected with exit code `code`. */
export function bashSyntaxError(
  command: string,
  code: number | string,
  stdout: string,
  stderr: string,
): BashIncorrectSyntaxError {
  const msg =
    `Error (exit code ${code}) while checking bash command \n${pyRepr(command)}\n` +
    `---- Stderr ----\n${stderr}\n---- Stdout ----\n${stdout}`;
  return new BashIncorrectSyntaxError(msg, { extraInfo: { bash_stdout: stdout, bash_stderr: stderr } });
}
