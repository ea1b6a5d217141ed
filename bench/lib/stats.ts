/** Latency summaries every benchmark reports in the same shape (bench/runtime.ts adds ops/s to the same idea). */

export interface LatencyStats {
  n: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
}

/** `x` rounded to `decimals` places. */
export function roundTo(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

/** The nearest-rank quantile `q` of ascending `sorted` (NaN when empty). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** n, p50, p99 and mean of millisecond samples, rounded to `decimals` places (NaN statistics when empty). */
export function latencyStats(samples: readonly number[], decimals = 3): LatencyStats {
  const xs = [...samples].sort((a, b) => a - b);
  const mean = xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : Number.NaN;
  return {
    n: xs.length,
    p50_ms: roundTo(quantile(xs, 0.5), decimals),
    p99_ms: roundTo(quantile(xs, 0.99), decimals),
    mean_ms: roundTo(mean, decimals),
  };
}
