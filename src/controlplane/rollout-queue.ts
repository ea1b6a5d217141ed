/**
 * The rollout admission queue: at most `limit` jobs run at once, the rest wait and start in FIFO order.
 * A queued job can be withdrawn (a cancelled rollout) before it starts. Jobs never throw into the queue.
 */
export class RolloutQueue {
  private readonly waiting = new Map<string, () => Promise<void>>();
  private running = 0;

  /** `limit` 0 = no limit. */
  constructor(private readonly limit: number) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.size;
  }

  push(id: string, job: () => Promise<void>): void {
    this.waiting.set(id, job);
    this.pump();
  }

  /** Removes a job that has not started; false when it already started (or was never queued). */
  withdraw(id: string): boolean {
    return this.waiting.delete(id);
  }

  private pump(): void {
    while ((this.limit === 0 || this.running < this.limit) && this.waiting.size > 0) {
      // Map iteration order is insertion order: the oldest job first.
      const [id, job] = this.waiting.entries().next().value as [string, () => Promise<void>];
      this.waiting.delete(id);
      this.running++;
      void job()
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
