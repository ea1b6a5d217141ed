/**
 * results.jsonl: one line per finished instance, appended as each finishes, so an interrupted run loses
 * nothing already done. Resume reads it back and skips instances whose last line is final.
 */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { RolloutResult } from "../rollout.js";

/** Statuses that count as done for resume; `cancelled` (Ctrl-C) instances run again. */
const FINAL = new Set(["completed", "failed"]);

export async function readResults(path: string): Promise<RolloutResult[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: RolloutResult[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as RolloutResult);
    } catch {
      // A line cut short by a crash mid-write: that instance simply runs again.
    }
  }
  return out;
}

/** The last final result of each instance (a rerun with `redo_existing` supersedes older lines). */
export function finishedResults(results: RolloutResult[]): Map<string, RolloutResult> {
  const done = new Map<string, RolloutResult>();
  for (const r of results) if (FINAL.has(r.status)) done.set(r.instance_id, r);
  return done;
}

export class ResultsWriter {
  private readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** Appends one line; writes are serialised so concurrent workers never interleave. */
  append(result: RolloutResult): Promise<void> {
    const line = `${JSON.stringify(result)}\n`;
    this.chain = this.chain.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, line);
    });
    return this.chain;
  }
}
