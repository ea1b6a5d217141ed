/**
 * AGS API pacing shared by every replica of a service on PostgreSQL: each request takes a token from the
 * store's bucket for its account and action (`takeRateToken`, one row update), so N replicas together stay
 * under `api_rate_limit` where N per-process buckets would send N times the limit. On SQLite (one process)
 * the AGS client's own buckets are enough and cost no store round trip.
 *
 * Slots are evenly spaced (burst 1) at a fraction of the limit. AGS counts arrivals over a sliding
 * one-second window, so a request delayed after its slot (event-loop lag, a slow store round trip) while
 * the one `limit` slots later is not squeezes `limit + 1` requests into less than a second. With slots at
 * `margin * limit` per second those requests span `1 / margin` seconds, so any request may arrive up to
 * `1 / margin - 1` seconds late (0.18 s at 0.85) without a rejection; even spacing is the shape that
 * tolerates the most lateness at a given rate, so a cleverer schedule cannot buy more.
 */
import type { AgsPacer } from "../deployment/ags/rate-limit.js";
import { sleep } from "../runtime/index.js";
import type { Store } from "../store/types.js";

/**
 * The shared bucket's rate as a fraction of the configured `api_rate_limit`. It trades throughput (a burst
 * of creates takes 1/margin times the floor `count / limit`) for tolerance to late arrivals (above). 0.85
 * keeps a burst of 200 creates within 1.2x the floor and tolerates 0.18 s of lateness; measured in
 * bench/scale.ts row (c) and test/controlplane/scale-ags-rate.test.ts.
 */
export const SHARED_RATE_MARGIN = 0.85;
/**
 * A request that wakes this long after its slot gives the slot up and takes a new one. Together with what
 * can still delay it after this check (an await in the client, signing, the socket write, the network) its
 * lateness must stay under the tolerance `1 / SHARED_RATE_MARGIN - 1` seconds; the check takes a quarter
 * of it (44 ms at 0.85) and leaves the rest to that path. Measured on a loaded two-core machine (load
 * average 10-19): without the check replicas woke up to 1.7 s late and a burst of 200 creates drew dozens
 * of RequestLimitExceeded; with half the tolerance here, 1 run in 5 of the shared-rate test still drew
 * one. An idle replica wakes within a few ms of its slot, so this costs nothing there.
 */
const LATE_LIMIT_MS = Math.round(((1 / SHARED_RATE_MARGIN - 1) * 1000) / 4);
/** Evenly spaced requests (as the per-process bucket): a burst followed by the full rate trips the window. */
const SHARED_BURST = 1;

export function storeAgsPacer(store: Store): AgsPacer {
  return async ({ bucket, ratePerSecond, signal }) => {
    const rate = ratePerSecond * SHARED_RATE_MARGIN;
    for (;;) {
      signal?.throwIfAborted();
      const asked = Date.now();
      const wait = await store.takeRateToken(bucket, rate, SHARED_BURST, asked);
      // The slot is `asked + wait`: the store round trip (a row lock the other replicas contend for) is
      // part of the wait, not added to it, so its jitter does not make this request late for its slot.
      const slot = asked + wait;
      const left = slot - Date.now();
      if (left > 0) await sleep(left, signal);
      const late = Date.now() - slot;
      if (late <= LATE_LIMIT_MS) return;
      // Woken this late (a starved event loop), the request could land in one window with the request
      // `limit` slots after it: the slot is given up unused and the request takes the next free one.
    }
  };
}
