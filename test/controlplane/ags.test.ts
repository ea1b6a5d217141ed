/**
 * `swerex serve` with `tencentags` sandboxes on the AGS emulator (real TC3-signed control-plane calls, the
 * sandbox gateway with `X-Access-Token`, instances that are real swerex-remote servers): create, the
 * pass-through with the instance's own refreshed token, pause/resume, adoption after a SIGKILL of the
 * service, delete; the SecretKey never shows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import {
  inProcessBackend,
  instanceStatus,
  SECRET_ID,
  SECRET_KEY,
  startEmulator,
} from "../ags/emulator-helpers.js";
import { api, newDataDir, type ServeProcess, startServe, testServiceId } from "./serve.js";

const KEY = "ags-service-key-0123456789";

describe("swerex serve with tencentags sandboxes (AGS emulator)", () => {
  let emu: AgsEmulator;
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess | undefined;
  const serviceId = testServiceId();
  const url = () => (serve as ServeProcess).url;
  const start = async () => {
    serve = await startServe({
      dataDir: data.dir,
      keys: [KEY],
      serviceId,
      env: { TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
      args: [
        "--instances.deployment.type=tencentags",
        `--instances.deployment.http_endpoint=${emu.endpoint}`,
        `--instances.deployment.gateway_address=${emu.endpoint}`,
        `--instances.deployment.domain=${emu.domain}`,
        "--instances.deployment.startup_timeout=120",
        "--instances.deployment.runtime_timeout=30",
      ],
    });
  };
  const execute = (id: string, command: string) =>
    api(url(), "POST", `/v1/sandboxes/${id}/runtime/execute`, {
      key: KEY,
      body: { command, shell: true, timeout: 30 },
    });

  beforeAll(async () => {
    emu = await startEmulator({ backend: inProcessBackend() });
    data = await newDataDir();
    await start();
  }, 120_000);
  afterAll(async () => {
    await serve?.stop("SIGKILL");
    await emu?.close();
    await data?.remove();
  });

  let id = "";
  let instanceId: string | undefined;

  it("creates a running sandbox on an AGS instance, reachable through the pass-through", async () => {
    const res = await api(url(), "POST", "/v1/sandboxes", { key: KEY, body: { metadata: { t: "ags" } } });
    expect(res.status).toBe(201);
    id = res.body.id;
    expect(res.body.deployment.type).toBe("tencentags");
    expect(res.body.deployment.secret_key).toBeUndefined();
    expect(res.body.deployment.secret_id).toBeUndefined();
    const live = emu.listInstances().filter((i) => i.Status === "RUNNING") as {
      InstanceId: string;
      Metadata?: { Name: string; Value: string }[];
    }[];
    expect(live).toHaveLength(1);
    instanceId = live[0]?.InstanceId;
    const meta = Object.fromEntries((live[0]?.Metadata ?? []).map((m) => [m.Name, m.Value]));
    expect(meta["swerex.service"]).toBe(serviceId);
    expect(meta["swerex.sandbox"]).toBe(id);
    expect(meta["swerex.owner.pid"]).toBeUndefined();
    const r = await execute(id, "echo via-gateway");
    expect(r.status).toBe(200);
    expect(r.body.stdout).toBe("via-gateway\n");
  }, 180_000);

  it("pauses and resumes the instance", async () => {
    const paused = await api(url(), "POST", `/v1/sandboxes/${id}/pause`, { key: KEY });
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe("paused");
    expect(instanceStatus(emu, instanceId)).toBe("PAUSED");
    expect((await execute(id, "true")).status).toBe(409);
    const resumed = await api(url(), "POST", `/v1/sandboxes/${id}/resume`, { key: KEY });
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe("running");
    expect(instanceStatus(emu, instanceId)).toBe("RUNNING");
    expect((await execute(id, "echo back")).body.stdout).toBe("back\n");
  }, 180_000);

  it("adopts the instance after a SIGKILL of the service, then stops it on DELETE", async () => {
    await serve?.stop("SIGKILL");
    await start();
    const got = await api(url(), "GET", `/v1/sandboxes/${id}`, { key: KEY });
    expect(got.body.state).toBe("running");
    expect((await execute(id, "echo adopted")).body.stdout).toBe("adopted\n");
    const del = await api(url(), "DELETE", `/v1/sandboxes/${id}`, { key: KEY });
    expect(del.body.state).toBe("stopped");
    expect(instanceStatus(emu, instanceId)).toMatch(/^STOPP(ING|ED)$/);
    expect(serve?.output()).not.toContain(SECRET_KEY);
    expect(serve?.output()).not.toContain(KEY);
  }, 180_000);
});
