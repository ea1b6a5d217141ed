/**
 * Two `swerex serve` replicas on one PostgreSQL database creating `tencentags` sandboxes at once against one
 * AGS emulator whose per-action limit equals the configured `api_rate_limit`. Each replica alone stays
 * under the limit; together they would double it, unless their calls share the store's token bucket. The
 * emulator counts every `RequestLimitExceeded` it answers: there must be none (client retries would hide
 * them from the API answers, so the clients' success alone proves nothing).
 *
 * The emulator runs in a process of its own at a higher scheduling priority (test/ags/emulator-process.ts):
 * the real AGS is a dedicated server whose arrival stamps do not depend on our load, while an emulator in
 * this loaded test process would stamp late whenever the process is starved and count a squeezed window
 * the replicas never sent.
 */
import { expect, it } from "vitest";
import { SECRET_KEY } from "../ags/emulator-helpers.js";
import { startEmulatorProcess } from "../ags/emulator-process.js";
import { describePostgres } from "../store/pg-fixtures.js";
import { PER_SANDBOX_ACTIONS, perSandboxCalls, useAgsReplicas } from "./ags-replicas-fixture.js";

const KEY = "ags-rate-key-aaaaaaaaaaaaaaaa";
/** The account's limit per action, in the emulator and in the service config alike. */
const RATE = 5;
const PER_REPLICA = 10;

describePostgres("two replicas share the AGS rate limit through PostgreSQL (AGS emulator)", () => {
  const fixture = useAgsReplicas(() => startEmulatorProcess({ defaultRateLimit: RATE }), {
    count: 2,
    key: KEY,
    rateLimit: RATE,
  });

  it(`${2 * PER_REPLICA} concurrent creates on two replicas get no RequestLimitExceeded`, async () => {
    const r = fixture.replicas();
    const e = fixture.emulator();
    const answers = await Promise.all(
      [0, 1].flatMap((i) =>
        Array.from({ length: PER_REPLICA }, (_, n) =>
          r.call(i, "POST", "/v1/sandboxes", { metadata: { replica: String(i), n: String(n) } }),
        ),
      ),
    );
    const failed = answers.filter((a) => a.status !== 201).map((a) => a.body);
    expect(failed).toEqual([]);
    expect(answers.every((a) => a.body.state === "running")).toBe(true);
    expect(await e.liveInstances()).toHaveLength(2 * PER_REPLICA);
    // Both replicas called AGS concurrently: only a shared budget keeps their sum under the limit.
    expect((await e.state()).limitedCounts).toEqual({});

    const stopped = await Promise.all(
      answers.map((a, k) => r.call(k % 2, "DELETE", `/v1/sandboxes/${a.body.id}`)),
    );
    expect(stopped.map((s) => s.body.state)).toEqual(answers.map(() => "stopped"));
    expect(await e.liveInstances()).toEqual([]);
    const end = await e.state();
    expect(end.limitedCounts).toEqual({});
    // The shared budget is spent once per sandbox: no stop is sent twice (another replica's reaper leaves a
    // stop under way alone), and only the replica that talks to a sandbox takes its token.
    expect(perSandboxCalls(end.callCounts)).toEqual(
      Object.fromEntries(PER_SANDBOX_ACTIONS.map((a) => [a, 2 * PER_REPLICA])),
    );
    for (const out of r.outputs()) expect(out).not.toContain(SECRET_KEY);
  }, 300_000);
});
