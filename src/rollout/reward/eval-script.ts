/**
 * The SWE-bench evaluation script (`make_eval_script_list`): reset the test files to the base commit, apply the
 * test patch, run the tests between start/end markers, record the exit code, reset the test files again.
 */
import { shQuote } from "../tasks/sandbox.js";
import { GIT_ENV } from "../tasks/setup.js";
import { patchedFiles } from "../tasks/task.js";

export const START_MARKER = ">>>>> Start Test Output";
export const END_MARKER = ">>>>> End Test Output";
export const EXIT_CODE_MARKER = ">>>>> Test Exit Code:";
export const TEST_PATCH_FAILED = ">>>>> Test Patch Apply Failed";
const HEREDOC = "EOF_114329324912";

/** SWE-bench's default for pytest repositories: the short summary lists every test with its status. */
export const DEFAULT_TEST_CMD = "python3 -m pytest --no-header -rA --tb=no -p no:cacheprovider";

export interface EvalScriptInput {
  workdir: string;
  baseCommit: string;
  testPatch: string;
  testCmd?: string;
}

export function buildEvalScript(input: EvalScriptInput): string {
  const files = patchedFiles(input.testPatch);
  const quoted = files.map(shQuote).join(" ");
  const env = Object.entries(GIT_ENV)
    .map(([k, v]) => `export ${k}=${shQuote(v)}`)
    .join("\n");
  // Files the test patch creates do not exist at the base commit; remove whatever the agent put there.
  const reset = files
    .map(
      (f) =>
        `git checkout -q ${shQuote(input.baseCommit)} -- ${shQuote(f)} 2>/dev/null || rm -f ${shQuote(f)}`,
    )
    .join("\n");
  const testPatch = input.testPatch.endsWith("\n") ? input.testPatch : `${input.testPatch}\n`;
  const lines = ["#!/bin/bash", "set -uo pipefail", env, `cd ${shQuote(input.workdir)} || exit 2`, reset];
  if (input.testPatch.trim()) {
    lines.push(
      `if ! git apply -v - <<'${HEREDOC}'`,
      `${testPatch}${HEREDOC}`,
      "then",
      `  echo ${shQuote(TEST_PATCH_FAILED)}`,
      "  exit 3",
      "fi",
    );
  }
  lines.push(
    `echo ${shQuote(START_MARKER)}`,
    `${input.testCmd ?? DEFAULT_TEST_CMD} ${quoted}`,
    "rc=$?",
    `echo ${shQuote(END_MARKER)}`,
    `echo "${EXIT_CODE_MARKER} $rc"`,
    reset,
    "",
  );
  return lines.join("\n");
}

export interface ParsedEvalLog {
  /** The text between the markers (the test command's output). */
  testOutput: string;
  started: boolean;
  finished: boolean;
  testPatchFailed: boolean;
  exitCode: number | null;
}

export function splitEvalLog(log: string): ParsedEvalLog {
  const start = log.indexOf(START_MARKER);
  const end = log.indexOf(END_MARKER, Math.max(start, 0));
  const exit = new RegExp(`${EXIT_CODE_MARKER}\\s*(\\d+)`).exec(log);
  return {
    testOutput: start >= 0 ? log.slice(start + START_MARKER.length, end >= 0 ? end : undefined) : "",
    started: start >= 0,
    finished: end >= 0,
    testPatchFailed: log.includes(TEST_PATCH_FAILED),
    exitCode: exit?.[1] ? Number(exit[1]) : null,
  };
}
