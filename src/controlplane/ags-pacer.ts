/**
 * AGS API pacing shared by every replica of a service on PostgreSQL: each request takes a token from the
 * store's bucket for its account and action (`takeRateToken`, one row update), so N replicas together stay
 * under `api_rate_limit` where N per-process buckets would send N times the limit. On SQLite (one process)
 * the AGS client's own buckets are enough and cost no store round trip.
 */
import type { AgsPacer } from "../deployment/ags/rate-limit.js";
import { sleep } from "../runtime/index.js";
import type { Store } from "../store/types.js";

/**
 * The shared bucket runs below the configured rate: AGS counts requests over a sliding one-second window
 * at arrival, and requests from different processes reach it with different delays after taking their
 * slot (event-loop lag, connection set-up), so slots spaced exactly 1/rate apart can arrive closer than
 * that. 0.9 still let one request in a few hundred over the window on a loaded two-core machine.
 */
export const SHARED_RATE_MARGIN = 0.8;
/** Evenly spaced requests (as the per-process bucket): a burst followed by the full rate trips the window. */
const SHARED_BURST = 1;

export function storeAgsPacer(store: Store): AgsPacer {
  return async ({ bucket, ratePerSecond, signal }) => {
    signal?.throwIfAborted();
    const wait = await store.takeRateToken(bucket, ratePerSecond * SHARED_RATE_MARGIN, SHARED_BURST);
    if (wait > 0) await sleep(wait, signal);
  };
}
