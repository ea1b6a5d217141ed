/**
 * The SWE-bench reward, computed in the rollout's own sandbox: reset the repository to the base commit, apply
 * the extracted patch (SWE-bench's apply chain), run the evaluation script, parse the test log, grade.
 * Grading the extracted patch on a clean tree (rather than the agent's working tree) means the reward is
 * always the reward of the patch we report.
 */
import type { Runtime } from "../../runtime/runtime.js";
import { applyPatch, writeTempFile } from "../patch/apply.js";
import { runShell, shQuote } from "../tasks/sandbox.js";
import type { SweTask } from "../tasks/task.js";
import { buildEvalScript, splitEvalLog } from "./eval-script.js";
import { gradeTests, type TestsReport } from "./grading.js";
import { parsePytestLog, type StatusMap } from "./log-parser.js";

export type SwebenchStatus =
  | "resolved"
  | "unresolved"
  | "empty_patch"
  | "patch_apply_failed"
  | "test_patch_apply_failed"
  | "eval_error"
  | "eval_timeout";

export interface SwebenchReward {
  type: "swebench";
  /** 1 when resolved, else 0. */
  value: number;
  resolved: boolean;
  pass_rate: number;
  status: SwebenchStatus;
  /** The apply command that took the patch. */
  applied_with: string | null;
  tests: TestsReport | null;
  test_exit_code: number | null;
  /** The last part of the evaluation log, for debugging. */
  log_tail: string;
}

export interface SwebenchRewardOptions {
  workdir: string;
  baseCommit: string;
  /** Seconds the evaluation script may run (SWE-bench harness: 1800). */
  evalTimeout: number;
}

const LOG_TAIL = 4000;

function zero(status: SwebenchStatus, log: string, extra: Partial<SwebenchReward> = {}): SwebenchReward {
  return {
    type: "swebench",
    value: 0,
    resolved: false,
    pass_rate: 0,
    status,
    applied_with: null,
    tests: null,
    test_exit_code: null,
    log_tail: log.slice(-LOG_TAIL),
    ...extra,
  };
}

/** Runs the evaluation on the tree as it is now and grades it. */
export async function evaluateTree(
  runtime: Runtime,
  task: SweTask,
  opts: SwebenchRewardOptions,
): Promise<SwebenchReward> {
  const script =
    task.eval_script ??
    buildEvalScript({
      workdir: opts.workdir,
      baseCommit: opts.baseCommit,
      testPatch: task.test_patch,
      testCmd: task.test_cmd,
    });
  const path = await writeTempFile(runtime, "eval", script);
  let output: string;
  let exitCode: number | null;
  try {
    ({ output, exitCode } = await runShell(
      runtime,
      `timeout -k 10 ${opts.evalTimeout} bash ${shQuote(path)}`,
      {
        cwd: opts.workdir,
        timeout: opts.evalTimeout + 30,
      },
    ));
  } finally {
    await runShell(runtime, `rm -f ${shQuote(path)}`, { timeout: 30 }).catch(() => undefined);
  }
  const log = splitEvalLog(output);
  if (exitCode === 124 || exitCode === 137) return zero("eval_timeout", output);
  if (log.testPatchFailed) return zero("test_patch_apply_failed", output);
  if (!log.started || !log.finished) return zero("eval_error", output);
  const map: StatusMap = parsePytestLog(log.testOutput);
  // A run that failed yet reported no test at all did not run the suite (import error, missing runner).
  if (Object.keys(map).length === 0 && log.exitCode !== 0)
    return zero("eval_error", output, { test_exit_code: log.exitCode });
  const grade = gradeTests(map, task.FAIL_TO_PASS, task.PASS_TO_PASS);
  return {
    type: "swebench",
    value: grade.resolved ? 1 : 0,
    resolved: grade.resolved,
    pass_rate: grade.pass_rate,
    status: grade.resolved ? "resolved" : "unresolved",
    applied_with: null,
    tests: grade.report,
    test_exit_code: log.exitCode,
    log_tail: output.slice(-LOG_TAIL),
  };
}

/** Applies `patch` to a clean checkout of the base commit and grades it. */
export async function swebenchReward(
  runtime: Runtime,
  task: SweTask,
  patch: string,
  opts: SwebenchRewardOptions,
): Promise<SwebenchReward> {
  if (!patch.trim()) return zero("empty_patch", "");
  const applied = await applyPatch(runtime, opts.workdir, opts.baseCommit, patch);
  if (!applied.applied) return zero("patch_apply_failed", applied.log);
  const result = await evaluateTree(runtime, task, opts);
  return { ...result, applied_with: applied.command };
}
