/**
 * Per-action request limits over a sliding one-second window (the real API: 20 req/s per action by
 * default, `RequestLimitExceeded` above it).
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limits: Record<string, number>,
    private readonly defaultPerSecond: number,
  ) {}

  limitFor(action: string): number {
    return this.limits[action] ?? this.defaultPerSecond;
  }

  setLimit(action: string, perSecond: number): void {
    this.limits[action] = perSecond;
  }

  /** Records a hit; returns false when the action is over its limit (the hit is then not counted). */
  tryAcquire(action: string, nowMs: number): boolean {
    const limit = this.limitFor(action);
    if (!Number.isFinite(limit)) return true;
    const recent = (this.hits.get(action) ?? []).filter((t) => nowMs - t < 1000);
    if (recent.length >= limit) {
      this.hits.set(action, recent);
      return false;
    }
    recent.push(nowMs);
    this.hits.set(action, recent);
    return true;
  }
}
