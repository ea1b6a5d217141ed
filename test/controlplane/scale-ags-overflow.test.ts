/**
 * A full Docker fleet overflowing to AGS: a real `swerex serve` on real PostgreSQL with one extra dockerd
 * engine (max_sandboxes 1) and `overflow: {type: tencentags}` on the AGS emulator. The second create lands
 * on an AGS instance under the same API and id scheme; DELETE of everything leaves no container on the
 * engine and no live emulator instance.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { inProcessBackend, SECRET_ID, SECRET_KEY, startEmulator } from "../ags/emulator-helpers.js";
import { containersWithLabel, removeContainersWithLabel } from "../docker/fixtures.js";
import { type DockerdFleet, fleetUnavailable, startDockerdFleet } from "../helpers/dockerd-fleet.js";
import type { TempDatabase } from "../store/fixtures.js";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import { api, busyboxDockerArgs, startServeWithConfig, testServiceId } from "./serve.js";

const KEY = "ags-overflow-key-aaaaaaaaaaaa";
const skip = fleetUnavailable();
if (skip) console.warn(`skipping AGS overflow tests: ${skip}`);
const describeFleet = skip ? (describePostgres.skip as typeof describePostgres) : describePostgres;

describeFleet("a full Docker fleet overflows to tencentags (AGS emulator, PostgreSQL)", () => {
  let fleet: DockerdFleet | undefined;
  let emu: AgsEmulator | undefined;
  let db: TempDatabase | undefined;
  let serve: Awaited<ReturnType<typeof startServeWithConfig>> | undefined;
  const serviceId = testServiceId();
  const call = (method: string, path: string, body?: unknown) =>
    api(serve?.url ?? "", method, path, { key: KEY, ...(body !== undefined ? { body } : {}) });
  const exec = async (id: string, command: string) =>
    (await call("POST", `/v1/sandboxes/${id}/runtime/execute`, { command, shell: true, timeout: 30 })).body;
  const containers = async () =>
    fleet ? await containersWithLabel(`swerex.service=${serviceId}`, fleet.engine("a").docker) : [];
  const liveInstances = () =>
    (emu?.listInstances() ?? []).filter((i) => !/^STOPP(ING|ED)$/.test(String(i.Status)));

  beforeAll(async () => {
    fleet = await startDockerdFleet({ names: ["a"] });
    emu = await startEmulator({ backend: inProcessBackend() });
    db = await tempPostgresDatabase();
    const config = {
      docker_hosts: [{ name: "a", docker_host: fleet.engine("a").dockerHost, max_sandboxes: 1 }],
      overflow: {
        type: "tencentags",
        http_endpoint: emu.endpoint,
        gateway_address: emu.endpoint,
        domain: emu.domain,
        startup_timeout: 120,
        runtime_timeout: 30,
      },
      admission: { queue_timeout: 0 },
    };
    serve = await startServeWithConfig(config, {
      keys: [KEY],
      serviceId,
      env: { TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
      args: ["--database", db.url, ...(await busyboxDockerArgs())],
    });
  }, 300_000);

  afterAll(async () => {
    await serve?.remove();
    if (fleet) await removeContainersWithLabel(`swerex.service=${serviceId}`, fleet.engine("a").docker);
    await emu?.close();
    await db?.drop();
    await fleet?.destroy();
  }, 180_000);

  it("spills the create that does not fit to an AGS instance under the same API, and DELETE leaves nothing", async () => {
    const onHost = await call("POST", "/v1/sandboxes", {});
    expect(onHost.status).toBe(201);
    expect(onHost.body).toMatchObject({ state: "running", host: "a", deployment: { type: "docker" } });
    const over = await call("POST", "/v1/sandboxes", { metadata: { t: "overflow" } });
    expect(over.status).toBe(201);
    expect(over.body).toMatchObject({ state: "running", host: null, deployment: { type: "tencentags" } });
    expect(over.body.id).toMatch(/^sbx-/);
    expect(over.body.deployment.secret_key).toBeUndefined();
    expect((await exec(onHost.body.id, "echo docker")).stdout).toBe("docker\n");
    expect((await exec(over.body.id, "echo ags")).stdout).toBe("ags\n");
    expect(await containers()).toHaveLength(1);
    const live = liveInstances() as { Metadata?: { Name: string; Value: string }[] }[];
    expect(live).toHaveLength(1);
    const meta = Object.fromEntries((live[0]?.Metadata ?? []).map((m) => [m.Name, m.Value]));
    expect(meta["swerex.sandbox"]).toBe(over.body.id);

    for (const id of [onHost.body.id, over.body.id]) {
      expect((await call("DELETE", `/v1/sandboxes/${id}`)).body.state).toBe("stopped");
    }
    expect(await containers()).toEqual([]);
    expect(liveInstances()).toEqual([]);
    expect(serve?.output()).not.toContain(SECRET_KEY);
  }, 300_000);
});
