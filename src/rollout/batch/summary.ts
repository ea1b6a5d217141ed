/** The table printed at the end of a batch, and the totals written to summary.json. */
import type { RolloutResult } from "../rollout.js";

export interface BatchSummary {
  instances: number;
  completed: number;
  failed: number;
  cancelled: number;
  resolved: number;
  resolve_rate: number;
  mean_score: number | null;
  failure_classes: Record<string, number>;
  wall_s: number;
}

export function summarize(results: RolloutResult[], wallS: number): BatchSummary {
  const scores = results.map((r) => r.score).filter((s): s is number => s !== null);
  const failure_classes: Record<string, number> = {};
  for (const r of results)
    if (r.failure_class) failure_classes[r.failure_class] = (failure_classes[r.failure_class] ?? 0) + 1;
  const resolved = results.filter((r) => r.resolved).length;
  return {
    instances: results.length,
    completed: results.filter((r) => r.status === "completed").length,
    failed: results.filter((r) => r.status === "failed").length,
    cancelled: results.filter((r) => r.status === "cancelled").length,
    resolved,
    resolve_rate: results.length ? resolved / results.length : 0,
    mean_score: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
    failure_classes,
    wall_s: Math.round(wallS * 10) / 10,
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

export function renderSummary(results: RolloutResult[], summary: BatchSummary): string {
  const rows = results.map((r) => [
    r.instance_id,
    r.status,
    r.exit_status ?? "-",
    r.failure_class ?? "-",
    r.resolved === null ? "-" : r.resolved ? "yes" : "no",
    r.score === null ? "-" : String(r.score),
    String(r.turns),
    `${r.timings.total_s.toFixed(1)}s`,
  ]);
  const classes = Object.entries(summary.failure_classes)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return [
    table(["instance", "status", "exit", "failure", "resolved", "reward", "turns", "time"], rows),
    "",
    `${summary.instances} instances: ${summary.completed} completed, ${summary.failed} failed, ${summary.cancelled} cancelled; ` +
      `${summary.resolved} resolved (${(summary.resolve_rate * 100).toFixed(1)}%); mean reward ${summary.mean_score === null ? "-" : summary.mean_score.toFixed(3)}; ` +
      `wall ${summary.wall_s}s${classes ? `; failures: ${classes}` : ""}`,
    "",
  ].join("\n");
}
