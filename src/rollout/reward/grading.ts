/**
 * SWE-bench grading (`swebench/harness/grading.py`): FAIL_TO_PASS tests must now pass (PASSED or XFAIL; a
 * skipped or missing one is a failure), PASS_TO_PASS tests must not break (PASSED, XFAIL or SKIPPED).
 * `resolved` is SWE-bench's FULL; `pass_rate` is ROLL's: the F2P fraction that passes, 0 on any P2P regression.
 */
import type { StatusMap } from "./log-parser.js";

export interface TestOutcome {
  success: string[];
  failure: string[];
}

export interface TestsReport {
  FAIL_TO_PASS: TestOutcome;
  PASS_TO_PASS: TestOutcome;
}

export type ResolutionStatus = "FULL" | "PARTIAL" | "NO";

export interface Grade {
  report: TestsReport;
  resolution: ResolutionStatus;
  resolved: boolean;
  pass_rate: number;
}

function split(tests: string[], ok: (status: string | undefined) => boolean, map: StatusMap): TestOutcome {
  const out: TestOutcome = { success: [], failure: [] };
  for (const t of tests) (ok(map[t]) ? out.success : out.failure).push(t);
  return out;
}

export function gradeTests(map: StatusMap, failToPass: string[], passToPass: string[]): Grade {
  const report: TestsReport = {
    FAIL_TO_PASS: split(failToPass, (s) => s === "PASSED" || s === "XFAIL", map),
    PASS_TO_PASS: split(passToPass, (s) => s === "PASSED" || s === "XFAIL" || s === "SKIPPED", map),
  };
  const f2pRate = failToPass.length ? report.FAIL_TO_PASS.success.length / failToPass.length : 1;
  const p2pKept = report.PASS_TO_PASS.failure.length === 0;
  const resolution: ResolutionStatus =
    f2pRate === 1 && p2pKept ? "FULL" : f2pRate > 0 && p2pKept ? "PARTIAL" : "NO";
  return { report, resolution, resolved: resolution === "FULL", pass_rate: p2pKept ? f2pRate : 0 };
}
