/**
 * AGS API calls per sandbox through two `swerex serve` replicas on one PostgreSQL database: the account's
 * rate limit is per action and shared by every replica, so a sandbox's create + DELETE must cost exactly
 * one StartSandboxInstance, one AcquireSandboxInstanceToken (by the replica that started it, the only
 * one talking to its runtime) and one StopSandboxInstance, wherever the DELETE lands. Each DELETE here
 * goes to the replica that did NOT start the sandbox (it adopts the instance only to stop it), while the
 * emulator answers slowly, so the sandboxes stay `stopping` across several rounds of whichever replica's
 * reaper runs: a reaper that retried stops another live replica is running would send them twice.
 *
 * The counts are read after both replicas have exited: nothing can send a late call any more.
 */
import { expect, it } from "vitest";
import { inProcessBackend, startEmulator } from "../ags/emulator-helpers.js";
import { describePostgres } from "../store/pg-fixtures.js";
import { perSandboxCalls, useAgsReplicas } from "./ags-replicas-fixture.js";

const KEY = "ags-calls-key-aaaaaaaaaaaaaaaa";
const PER_REPLICA = 2;
const N = 2 * PER_REPLICA;
/** The emulator's answer delay during the DELETEs: longer than two reaper intervals (1 s). */
const SLOW_API_MS = 2_500;

describePostgres("AGS calls per sandbox through two replicas (AGS emulator, PostgreSQL)", () => {
  const fixture = useAgsReplicas(() => startEmulator({ backend: inProcessBackend() }), {
    count: 2,
    key: KEY,
    rateLimit: 20,
  });

  it(`${N} creates and cross-replica DELETEs cost one start, one token and one stop each`, async () => {
    const r = fixture.replicas();
    const e = fixture.emulator();
    const before = e.callCounts();
    const created = await Promise.all(
      Array.from({ length: N }, (_, k) => r.call(k % 2, "POST", "/v1/sandboxes", {})),
    );
    expect(created.map((a) => a.status)).toEqual(created.map(() => 201));
    expect(perSandboxCalls(e.callCounts(), before)).toEqual({
      StartSandboxInstance: N,
      AcquireSandboxInstanceToken: N,
      StopSandboxInstance: 0,
    });

    e.inject.setApiLatency(SLOW_API_MS);
    const deleted = await Promise.all(
      created.map((a, k) => r.call((k + 1) % 2, "DELETE", `/v1/sandboxes/${a.body.id}`)),
    );
    expect(deleted.map((d) => d.body.state)).toEqual(created.map(() => "stopped"));
    await r.remove();
    e.inject.setApiLatency(0);

    expect(perSandboxCalls(e.callCounts(), before)).toEqual({
      StartSandboxInstance: N,
      AcquireSandboxInstanceToken: N,
      StopSandboxInstance: N,
    });
    expect(e.limitedCounts()).toEqual({});
  }, 300_000);
});
