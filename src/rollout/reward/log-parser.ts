/**
 * Test log parsing, ported from SWE-bench's `parse_log_pytest` (lines `STATUS test_id`, as `pytest -rA`
 * prints them in its short summary) plus the verbose form (`test_id STATUS`) of `parse_log_pytest_v2`.
 */

export const TEST_STATUSES = ["PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL"] as const;
export type TestStatus = (typeof TEST_STATUSES)[number] | "XPASS";
export type StatusMap = Record<string, TestStatus>;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const VERBOSE = /^(\S+::\S+)\s+(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\b/;

export function parsePytestLog(log: string): StatusMap {
  const map: StatusMap = {};
  for (const rawLine of log.split("\n")) {
    let line = rawLine.replace(ANSI, "").trimEnd();
    if (TEST_STATUSES.some((s) => line.startsWith(s))) {
      // "FAILED tests/x.py::test - AssertionError: ..." -> the id is the second word
      if (line.startsWith("FAILED")) line = line.replace(" - ", " ");
      const words = line.split(/\s+/);
      if (words.length > 1 && words[1]) map[words[1]] = words[0] as TestStatus;
      continue;
    }
    const verbose = VERBOSE.exec(line);
    if (verbose?.[1]) map[verbose[1]] = verbose[2] as TestStatus;
  }
  return map;
}
