/**
 * Two `swerex serve` replicas on one PostgreSQL database creating `tencentags` sandboxes at once against one
 * AGS emulator whose per-action limit equals the configured `api_rate_limit`. Each replica alone stays
 * under the limit; together they would double it, unless their calls share the store's token bucket. The
 * emulator counts every `RequestLimitExceeded` it answers: there must be none (client retries would hide
 * them from the API answers, so the clients' success alone proves nothing).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { inProcessBackend, SECRET_ID, SECRET_KEY, startEmulator } from "../ags/emulator-helpers.js";
import type { TempDatabase } from "../store/fixtures.js";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import { api, startServeWithConfig, testServiceId } from "./serve.js";

const KEY = "ags-rate-key-aaaaaaaaaaaaaaaa";
/** The account's limit per action, in the emulator and in the service config alike. */
const RATE = 5;
const PER_REPLICA = 10;

describePostgres("two replicas share the AGS rate limit through PostgreSQL (AGS emulator)", () => {
  let emu: AgsEmulator | undefined;
  let db: TempDatabase | undefined;
  const replicas: Awaited<ReturnType<typeof startServeWithConfig>>[] = [];
  const serviceId = testServiceId();
  const callOn = (i: number, method: string, path: string, body?: unknown) =>
    api(replicas[i]?.url ?? "", method, path, { key: KEY, ...(body !== undefined ? { body } : {}) });
  const liveInstances = () =>
    (emu?.listInstances() ?? []).filter((i) => !/^STOPP(ING|ED)$/.test(String(i.Status)));

  beforeAll(async () => {
    emu = await startEmulator({ backend: inProcessBackend(), defaultRateLimit: RATE });
    db = await tempPostgresDatabase();
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startServeWithConfig(
          {},
          {
            keys: [KEY],
            serviceId,
            env: { TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
            args: [
              "--database",
              db.url,
              "--instances.deployment.type=tencentags",
              `--instances.deployment.http_endpoint=${emu.endpoint}`,
              `--instances.deployment.gateway_address=${emu.endpoint}`,
              `--instances.deployment.domain=${emu.domain}`,
              `--instances.deployment.api_rate_limit=${RATE}`,
              "--instances.deployment.startup_timeout=120",
              "--instances.deployment.runtime_timeout=30",
            ],
          },
        ),
      );
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(replicas.map((r) => r.remove()));
    await emu?.close();
    await db?.drop();
  }, 120_000);

  it(`${2 * PER_REPLICA} concurrent creates on two replicas get no RequestLimitExceeded`, async () => {
    const answers = await Promise.all(
      [0, 1].flatMap((i) =>
        Array.from({ length: PER_REPLICA }, (_, n) =>
          callOn(i, "POST", "/v1/sandboxes", { metadata: { replica: String(i), n: String(n) } }),
        ),
      ),
    );
    const failed = answers.filter((a) => a.status !== 201).map((a) => a.body);
    expect(failed).toEqual([]);
    expect(answers.every((a) => a.body.state === "running")).toBe(true);
    expect(liveInstances()).toHaveLength(2 * PER_REPLICA);
    // Both replicas called AGS concurrently: only a shared budget keeps their sum under the limit.
    expect(emu?.limitedCounts()).toEqual({});

    const stopped = await Promise.all(
      answers.map((a, k) => callOn(k % 2, "DELETE", `/v1/sandboxes/${a.body.id}`)),
    );
    expect(stopped.map((s) => s.body.state)).toEqual(answers.map(() => "stopped"));
    expect(liveInstances()).toEqual([]);
    expect(emu?.limitedCounts()).toEqual({});
    for (const r of replicas) expect(r.output()).not.toContain(SECRET_KEY);
  }, 300_000);
});
