/** What the three server fuzz tests share: the seed, the time per route, and the "alive, RSS back" check. */
import { expect } from "vitest";
import { type FuzzReport, summarize } from "../helpers/fuzz.js";
import { processAlive, rssOf } from "../helpers/process.js";

/** Fixed, so a failure replays; change it to explore. */
export const FUZZ_SEED = Number(process.env.SWEREX_FUZZ_SEED ?? 13);
/** A few seconds per route, as the issue asks; longer runs via SWEREX_FUZZ_MS_PER_ROUTE. */
export const FUZZ_MS_PER_ROUTE = Number(process.env.SWEREX_FUZZ_MS_PER_ROUTE ?? 2_000);
/** RSS may grow by this much over a fuzz run (allocator slack, JIT, caches) and still count as "back". */
export const RSS_SLACK_BYTES = 160 * 1024 * 1024;

const MIB = 1024 * 1024;

/** No failure (each one printed with its request), the process alive, RSS near where it started. */
export async function expectSurvived(name: string, pid: number, rssBefore: number, report: FuzzReport) {
  console.log(summarize(name, report));
  for (const f of report.failures.slice(0, 5)) console.log(JSON.stringify(f).slice(0, 800));
  expect(report.failures).toEqual([]);
  expect(report.sent).toBeGreaterThan(0);
  expect(processAlive(pid)).toBe(true);
  const rssAfter = (await rssOf(pid)) ?? 0;
  console.log(
    `${name}: RSS ${(rssBefore / MIB).toFixed(0)} MiB before, ${(rssAfter / MIB).toFixed(0)} MiB after`,
  );
  expect(rssAfter - rssBefore).toBeLessThan(RSS_SLACK_BYTES);
}
