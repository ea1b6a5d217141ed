/**
 * Batch progress on stderr: a redrawn bar with counts and rates on a terminal, one plain line per finished
 * instance otherwise (CI logs, pipes).
 */
import type { RolloutResult } from "../rollout.js";

export interface ProgressCounts {
  total: number;
  skipped: number;
  done: number;
  running: number;
  resolved: number;
  failed: number;
}

export type ProgressMode = "bar" | "lines" | "off";

function clock(s: number): string {
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m % 60)}:${pad(Math.floor(s % 60))}` : `${pad(m)}:${pad(Math.floor(s % 60))}`;
}

export class Progress {
  readonly counts: ProgressCounts;
  private readonly out: NodeJS.WritableStream;
  private readonly mode: ProgressMode;
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    total: number,
    skipped: number,
    mode: ProgressMode,
    out: NodeJS.WritableStream = process.stderr,
  ) {
    this.counts = { total, skipped, done: 0, running: 0, resolved: 0, failed: 0 };
    this.mode = mode;
    this.out = out;
    if (mode === "bar") {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
    if (mode !== "off") {
      this.out.write(
        `run-batch: ${total} instances${skipped ? `, ${skipped} already done (skipped)` : ""}\n`,
      );
    }
  }

  private elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** "2/4 done | 1 running | 1 resolved | 0 failed | 1.5/min | 00:40 elapsed | eta 00:40" */
  line(): string {
    const c = this.counts;
    const todo = c.total - c.skipped;
    const el = this.elapsed();
    const rate = el > 0 ? (c.done / el) * 60 : 0;
    const eta = c.done > 0 ? ((todo - c.done) * el) / c.done : undefined;
    return [
      `${c.done}/${todo} done`,
      `${c.running} running`,
      `${c.resolved} resolved`,
      `${c.failed} failed`,
      `${rate.toFixed(1)}/min`,
      `${clock(el)} elapsed`,
      `eta ${eta === undefined ? "--:--" : clock(eta)}`,
    ].join(" | ");
  }

  private draw(): void {
    const c = this.counts;
    const todo = Math.max(1, c.total - c.skipped);
    const width = 24;
    const filled = Math.round((c.done / todo) * width);
    this.out.write(`\r\u001b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${this.line()}`);
  }

  onStart(): void {
    this.counts.running++;
    if (this.mode === "bar") this.draw();
  }

  onFinish(r: RolloutResult): void {
    const c = this.counts;
    c.running--;
    c.done++;
    if (r.resolved || (r.reward?.type === "similarity" && r.reward.value === 1)) c.resolved++;
    if (r.status !== "completed") c.failed++;
    if (this.mode === "bar") this.draw();
    if (this.mode === "lines") {
      const score = r.score === null ? "-" : String(r.score);
      const what = r.failure_class ? ` ${r.failure_class}` : "";
      this.out.write(
        `[${c.done}/${c.total - c.skipped}] ${r.instance_id}: ${r.status}${what} score=${score} (${r.timings.total_s.toFixed(1)}s) | ${this.line()}\n`,
      );
    }
  }

  close(): void {
    clearInterval(this.timer);
    if (this.mode === "bar") {
      this.draw();
      this.out.write("\n");
    }
  }
}
