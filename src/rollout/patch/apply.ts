/**
 * Applies a patch to a clean checkout the way the SWE-bench harness does: `git apply`, then `--3way`, then
 * `--reject`, then `patch --fuzz=5`, resetting the tree between attempts.
 */
import { randomUUID } from "node:crypto";
import type { Runtime } from "../../runtime/runtime.js";
import { runShell, shQuote } from "../tasks/sandbox.js";
import { GIT_ENV } from "../tasks/setup.js";

export const GIT_APPLY_CMDS = [
  "git apply --verbose",
  "git apply --verbose --3way",
  "git apply --verbose --reject",
  "patch --batch --forward --fuzz=5 -p1 -i",
] as const;

export interface ApplyResult {
  applied: boolean;
  /** The command that worked. */
  command: string | null;
  log: string;
}

/** Resets `workdir` to `baseCommit`, dropping every change and untracked file. */
export async function resetToBase(runtime: Runtime, workdir: string, baseCommit: string): Promise<void> {
  const res = await runShell(runtime, `git reset -q --hard ${shQuote(baseCommit)} && git clean -fdq`, {
    cwd: workdir,
    timeout: 120,
    env: GIT_ENV,
  });
  if (res.exitCode !== 0)
    throw new Error(`resetting ${workdir} to ${baseCommit} failed: ${res.output.trim()}`);
}

/** Writes `content` to a fresh file under /tmp in the sandbox (large patches do not fit in one argv string). */
export async function writeTempFile(runtime: Runtime, stem: string, content: string): Promise<string> {
  const path = `/tmp/swerex-${stem}-${randomUUID()}`;
  await runtime.writeFile({ path, content });
  return path;
}

/** Applies `patch` on top of `baseCommit` in `workdir`; the tree is reset first and between attempts. */
export async function applyPatch(
  runtime: Runtime,
  workdir: string,
  baseCommit: string,
  patch: string,
): Promise<ApplyResult> {
  await resetToBase(runtime, workdir, baseCommit);
  const file = await writeTempFile(runtime, "patch", patch.endsWith("\n") ? patch : `${patch}\n`);
  const log: string[] = [];
  try {
    for (const cmd of GIT_APPLY_CMDS) {
      const res = await runShell(runtime, `${cmd} ${shQuote(file)}`, {
        cwd: workdir,
        timeout: 120,
        env: GIT_ENV,
      });
      log.push(`$ ${cmd}\n${res.output}`);
      if (res.exitCode === 0) return { applied: true, command: cmd, log: log.join("\n") };
      await resetToBase(runtime, workdir, baseCommit);
    }
    return { applied: false, command: null, log: log.join("\n") };
  } finally {
    await runShell(runtime, `rm -f ${shQuote(file)}`, { timeout: 30 }).catch(() => undefined);
  }
}
