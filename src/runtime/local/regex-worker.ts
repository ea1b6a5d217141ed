/**
 * Searches caller-supplied regexes (a session's `expect` patterns) off the main thread (issue 13 item 4).
 * JS regexes backtrack: `(a+)+b` against 30 `a`s runs for minutes, and on the event loop it would stall
 * every session and `/is_alive`. Each search runs in a worker thread; the main thread only waits for a
 * message. A search still running after `deadlineMs`, or no longer wanted (`cancel`: the expect timed out
 * or was interrupted), terminates its worker, which is the only way to stop a running regex.
 *
 * Workers are pooled (a few idle ones kept, unref'd) so a typical search costs one message round trip.
 */
import { Worker } from "node:worker_threads";
import { SwerexError } from "../errors.js";
import { startTimer } from "../timer.js";

/** Where a regex matched: start, end and capture groups ("" for a group that did not take part). */
export interface RegexHit {
  start: number;
  end: number;
  groups: string[];
}

/** Idle workers kept for the next search; more are started on demand and ended after use. */
const MAX_IDLE_WORKERS = 2;

/** The worker: CommonJS, evaluated from this string, so it needs no file of its own (bundles, tsx). */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", ({ sources, text }) => {
  const hits = sources.map((source) => {
    const m = new RegExp(source, "s").exec(text);
    return m ? { start: m.index, end: m.index + m[0].length, groups: m.slice(1).map((g) => g ?? "") } : null;
  });
  parentPort.postMessage(hits);
});
`;

/** A search that ran out of time: the pattern backtracks catastrophically on this output. */
export class RegexDeadlineError extends SwerexError {}

/** The search was abandoned by its caller (no result will come). */
export class RegexSearchCancelled extends Error {
  constructor() {
    super("regex search cancelled");
  }
}

const idle: Worker[] = [];

function takeWorker(): Worker {
  const w = idle.pop() ?? new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  return w;
}

function releaseWorker(w: Worker): void {
  if (idle.length < MAX_IDLE_WORKERS) idle.push(w);
  else void w.terminate();
}

export interface RegexSearch {
  /** One entry per source: its leftmost match in `text`, or null. */
  result: Promise<(RegexHit | null)[]>;
  /** Abandons the search (terminating its worker if it is still running); `result` rejects. */
  cancel(): void;
}

/**
 * Searches `text` with each of `sources` (JS regex source, flag `s`) in a worker. Rejects with
 * `RegexDeadlineError` after `deadlineMs`, naming the patterns and the text length.
 */
export function searchRegexes(sources: string[], text: string, deadlineMs: number): RegexSearch {
  const worker = takeWorker();
  let settled = false;
  let resolveFn: (hits: (RegexHit | null)[]) => void = () => undefined;
  let rejectFn: (e: Error) => void = () => undefined;
  const result = new Promise<(RegexHit | null)[]>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  /** Settles once: stops the deadline, detaches, and keeps or ends the worker. */
  const settle = (keepWorker: boolean): boolean => {
    if (settled) return false;
    settled = true;
    timer.cancel();
    worker.off("message", onMessage);
    worker.off("error", onError);
    if (keepWorker) releaseWorker(worker);
    else void worker.terminate();
    return true;
  };
  const onMessage = (hits: (RegexHit | null)[]) => {
    if (settle(true)) resolveFn(hits);
  };
  const onError = (e: Error) => {
    if (settle(false)) rejectFn(e);
  };
  const timer = startTimer(deadlineMs, () => {
    if (!settle(false)) return;
    rejectFn(
      new RegexDeadlineError(
        `expect pattern(s) ${JSON.stringify(sources)} did not finish searching ${text.length} characters of ` +
          `output within ${deadlineMs / 1000} s (catastrophic backtracking?); the command keeps running: ` +
          "interrupt the session (bash_interrupt) and use a simpler pattern",
        { extraInfo: { expect: sources, searched_chars: text.length } },
      ),
    );
  });
  worker.on("message", onMessage);
  worker.on("error", onError);
  worker.postMessage({ sources, text });
  return {
    result,
    cancel() {
      if (settle(false)) rejectFn(new RegexSearchCancelled());
    },
  };
}
