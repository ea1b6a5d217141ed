import { describe, expect, it } from "vitest";
import { buildEvalScript, splitEvalLog } from "../../../src/rollout/reward/eval-script.js";
import { gradeTests } from "../../../src/rollout/reward/grading.js";
import { parsePytestLog } from "../../../src/rollout/reward/log-parser.js";
import { patchSimilarity } from "../../../src/rollout/reward/similarity.js";

describe("parsePytestLog", () => {
  it("reads pytest -rA short summary lines, FAILED with a message, and verbose lines", () => {
    const log = [
      "tests/test_a.py::test_x PASSED                                   [ 25%]",
      "\u001b[32mPASSED\u001b[0m tests/test_a.py::test_y",
      "FAILED tests/test_a.py::test_z - AssertionError: 1 != 2",
      "SKIPPED tests/test_a.py::test_s",
      "XFAIL tests/test_a.py::test_xf",
      "ERROR tests/test_b.py",
      "PASSED",
      "random noise",
    ].join("\n");
    expect(parsePytestLog(log)).toEqual({
      "tests/test_a.py::test_x": "PASSED",
      "tests/test_a.py::test_y": "PASSED",
      "tests/test_a.py::test_z": "FAILED",
      "tests/test_a.py::test_s": "SKIPPED",
      "tests/test_a.py::test_xf": "XFAIL",
      "tests/test_b.py": "ERROR",
    });
  });
});

describe("gradeTests (SWE-bench rules)", () => {
  it("resolved needs every F2P passed and every P2P kept; P2P skipped is kept, F2P skipped is not", () => {
    const map = { f1: "PASSED", f2: "XFAIL", p1: "PASSED", p2: "SKIPPED" } as const;
    expect(gradeTests({ ...map }, ["f1", "f2"], ["p1", "p2"])).toMatchObject({
      resolved: true,
      resolution: "FULL",
      pass_rate: 1,
    });
    const skipped = gradeTests({ f1: "SKIPPED", f2: "PASSED", p1: "PASSED" }, ["f1", "f2"], ["p1"]);
    expect(skipped).toMatchObject({ resolved: false, resolution: "PARTIAL", pass_rate: 0.5 });
    expect(skipped.report.FAIL_TO_PASS).toEqual({ success: ["f2"], failure: ["f1"] });
  });

  it("a missing test is a failure and any P2P regression makes pass_rate 0", () => {
    const g = gradeTests({ f1: "PASSED", p1: "FAILED" }, ["f1"], ["p1", "p2"]);
    expect(g).toMatchObject({ resolved: false, resolution: "NO", pass_rate: 0 });
    expect(g.report.PASS_TO_PASS).toEqual({ success: [], failure: ["p1", "p2"] });
  });
});

describe("eval script", () => {
  it("resets the test files, applies the test patch by heredoc, runs the test command on the patched test files", () => {
    const testPatch =
      "diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/tests/test_a.py\n+++ b/tests/test_a.py\n@@ -1 +1 @@\n-a\n+b\n";
    const script = buildEvalScript({
      workdir: "/w",
      baseCommit: "abc",
      testPatch,
      testCmd: "python3 run_tests.py",
    });
    expect(script).toContain(
      "git checkout -q 'abc' -- 'tests/test_a.py' 2>/dev/null || rm -f 'tests/test_a.py'",
    );
    expect(script).toContain(`if ! git apply -v - <<'EOF_114329324912'\n${testPatch}EOF_114329324912\nthen`);
    expect(script).toContain("python3 run_tests.py 'tests/test_a.py'\nrc=$?");
  });

  it("splits the marked region and reads the exit code", () => {
    const log =
      "noise\n>>>>> Start Test Output\nPASSED t::a\n>>>>> End Test Output\n>>>>> Test Exit Code: 1\n";
    expect(splitEvalLog(log)).toEqual({
      testOutput: "\nPASSED t::a\n",
      started: true,
      finished: true,
      testPatchFailed: false,
      exitCode: 1,
    });
  });
});

describe("patchSimilarity (reward.type=similarity)", () => {
  const expected =
    "diff --git a/calc.py b/calc.py\nindex 1..2 100644\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
  it("is 1 for the same patch up to index lines and blank lines, 0 for none", () => {
    expect(
      patchSimilarity(expected.replace("index 1..2 100644\n", "index 9..8 100644\n\n"), expected),
    ).toMatchObject({ value: 1, exact: true });
    expect(patchSimilarity("", expected).value).toBe(0);
  });
  it("shapes partial answers: right file and lines > right file > wrong file", () => {
    const sameFileOtherLine = expected.replace("+    return a + b", "+    return b + a");
    const otherFile = expected.replaceAll("calc.py", "other.py");
    const partial = patchSimilarity(sameFileOtherLine, expected).value;
    expect(partial).toBeGreaterThan(0.5);
    expect(partial).toBeLessThanOrEqual(0.85);
    expect(patchSimilarity(otherFile, expected).value).toBe(0.1);
  });
});
