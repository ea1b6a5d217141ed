/** The worker-thread regex search behind `expect` patterns (issue 13 item 4). */
import { describe, expect, it } from "vitest";
import {
  RegexDeadlineError,
  RegexSearchCancelled,
  searchRegexes,
} from "../../../src/runtime/local/regex-worker.js";

describe("searchRegexes", () => {
  it("finds the leftmost match of each pattern with its groups, null where none", async () => {
    const s = searchRegexes(["(?<p>>>>) ", "b.c", "zzz"], "xx>>> ab\ncd", 30_000);
    expect(await s.result).toEqual([
      { start: 2, end: 6, groups: [">>>"] },
      { start: 7, end: 10, groups: [] },
      null,
    ]);
  });

  it("a catastrophic pattern fails after the deadline, while this thread keeps running", async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const s = searchRegexes(["(a+)+b"], "a".repeat(40), 500);
      const err = await s.result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegexDeadlineError);
      expect((err as Error).message).toContain("(a+)+b");
      expect((err as Error).message).toContain("40 characters");
      // The event loop turned while the worker was stuck.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(ticker);
    }
  });

  it("cancel abandons a running search", async () => {
    const s = searchRegexes(["(a+)+b"], "a".repeat(40), 60_000);
    s.cancel();
    await expect(s.result).rejects.toBeInstanceOf(RegexSearchCancelled);
    // The pool still works afterwards.
    expect(await searchRegexes(["a"], "xa", 30_000).result).toEqual([{ start: 1, end: 2, groups: [] }]);
  });
});
