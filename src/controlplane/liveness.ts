/**
 * Replica liveness: each `swerex serve` life has a per-life id (`starter`), recorded on the sandboxes it
 * queues and starts, and keeps a lease under that id in the store's duty table (renewed every second by
 * its duty runner, `DUTY_TTL_MS` long, released on a clean stop). A start whose starter's lease lapsed is
 * one nobody will finish (stale-starts.ts); one whose starter is alive belongs to that replica, however
 * slow it is.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "../store/types.js";

const LIVENESS_PREFIX = "replica:";

/** The name of a replica life's liveness lease in the store's duty table. */
export function livenessDuty(starter: string): string {
  return `${LIVENESS_PREFIX}${starter}`;
}

/**
 * A per-life id for the replica whose duty holder name is `holder`: unique even when a restarted service
 * gets the same pid (pid 1 in a container), so a new life never vouches for the starts of the previous one.
 */
export function newStarterId(holder: string): string {
  return `${holder}/${randomUUID().slice(0, 8)}`;
}

/** Whether the replica life `starter` holds its liveness lease at `now` (epoch ms). */
export async function starterAlive(store: Store, starter: string, now = Date.now()): Promise<boolean> {
  const lease = await store.getDuty(livenessDuty(starter));
  return lease !== undefined && lease.expires_at > now;
}

/** `starterAlive` for many records in one round: each replica life's lease is read once. */
export function starterAliveMemo(store: Store, now = Date.now()): (starter: string) => Promise<boolean> {
  const alive = new Map<string, Promise<boolean>>();
  return (starter) => {
    let p = alive.get(starter);
    if (!p) {
      p = starterAlive(store, starter, now);
      alive.set(starter, p);
    }
    return p;
  };
}
