/**
 * What the three server fuzz tests share: the seed, the time per route, and the verdict. The fuzz runs in
 * two rounds with different seeds; the server must answer both without a failure, stay alive, and its RSS
 * must be "back near its start": not grow again in the second round (memory that tracked the traffic
 * would, a warmed-up heap does not) and stay within a fixed slack of where it started.
 */
import { expect } from "vitest";
import { type FuzzOptions, fuzz, summarize } from "../helpers/fuzz.js";
import { processAlive, rssOf } from "../helpers/process.js";

/** Fixed, so a failure replays; change it (SWEREX_FUZZ_SEED) to explore. */
export const FUZZ_SEED = Number(process.env.SWEREX_FUZZ_SEED ?? 13);
/** A few seconds per route in all (split over the two rounds); longer runs via SWEREX_FUZZ_MS_PER_ROUTE. */
export const FUZZ_MS_PER_ROUTE = Number(process.env.SWEREX_FUZZ_MS_PER_ROUTE ?? 2_000);
/** Growth allowed over both rounds: heap warm-up, allocator arenas, JIT code. */
const TOTAL_SLACK_BYTES = 256 * 1024 * 1024;
/** Growth allowed in the second round, once the first has warmed everything up. */
const SECOND_ROUND_SLACK_BYTES = 96 * 1024 * 1024;

const MIB = 1024 * 1024;
const mib = (b: number) => `${(b / MIB).toFixed(0)} MiB`;

/** Runs the two rounds against the process `pid` and checks the verdict. */
export async function fuzzAndCheck(
  name: string,
  pid: number,
  opts: Omit<FuzzOptions, "seed" | "msPerRoute">,
) {
  const rss0 = (await rssOf(pid)) ?? 0;
  const rounds = [];
  const rss: number[] = [];
  for (const seed of [FUZZ_SEED, FUZZ_SEED + 1000]) {
    const report = await fuzz({ ...opts, seed, msPerRoute: FUZZ_MS_PER_ROUTE / 2 });
    rounds.push(report);
    rss.push((await rssOf(pid)) ?? 0);
    console.log(summarize(`${name} (seed ${seed})`, report));
    for (const f of report.failures.slice(0, 5)) console.log(JSON.stringify(f).slice(0, 800));
  }
  const [rss1 = 0, rss2 = 0] = rss;
  console.log(`${name}: RSS ${mib(rss0)} at start, ${mib(rss1)} after round 1, ${mib(rss2)} after round 2`);
  for (const r of rounds) {
    expect(r.failures).toEqual([]);
    expect(r.sent).toBeGreaterThan(0);
  }
  expect(processAlive(pid)).toBe(true);
  expect(rss2 - rss1).toBeLessThan(SECOND_ROUND_SLACK_BYTES);
  expect(rss2 - rss0).toBeLessThan(TOTAL_SLACK_BYTES);
}

/**
 * The fuzzed server runs with this old-space cap (NODE_OPTIONS). Without a cap V8 may let its heap grow far
 * before collecting (more so when a loaded machine starves its concurrent marking), so RSS measured growth
 * that was not retained; with one, garbage is collected and memory that the traffic really retained makes
 * the process fail its heap limit, which "stays alive" catches.
 */
export const FUZZ_SERVER_NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=192`.trim();

/** A fuzz test's own deadline: every route's time plus starting the server, on a loaded machine. */
export const FUZZ_TEST_TIMEOUT_MS = 20 * FUZZ_MS_PER_ROUTE + 180_000;
