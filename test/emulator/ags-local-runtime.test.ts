import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { activeTool, gatewayPoster, ok, testEmulator, waitFor, waitStatus } from "./helpers.js";

/** The SWE-ReX "custom tool" shape (spec/ags.md §4.1): port 8000, probe GET / on it. */
const SWEREX_TOOL = {
  CustomConfiguration: {
    Image: "python:3.11",
    ImageRegistryType: "enterprise",
    Command: ["/bin/sh", "-c"],
    Args: ["/nix/swerex/run-swerex --port 8000 --auth-token ''"],
    Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }],
    Resources: { CPU: "1", Memory: "1Gi" },
    Probe: {
      HttpGet: { Path: "/", Port: 8000, Scheme: "HTTP" },
      ReadyTimeoutMs: 60_000,
      ProbeTimeoutMs: 1000,
      ProbePeriodMs: 200,
      SuccessThreshold: 1,
      FailureThreshold: 15,
    },
  },
};

describe("AGS emulator: local backend with a real swerex-remote per instance", () => {
  let emu: AgsEmulator;
  let toolId: string;
  beforeAll(async () => {
    emu = await testEmulator({
      backend: "local",
      sweepIntervalMs: 100,
    });
    toolId = await activeTool(emu.endpoint, SWEREX_TOOL);
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("a sandbox sees a clean environment, not the emulator's (no TENCENTCLOUD_SECRET_KEY)", async () => {
    const saved = process.env.TENCENTCLOUD_SECRET_KEY;
    process.env.TENCENTCLOUD_SECRET_KEY = "emulator-process-secret-canary";
    let id: string;
    try {
      const start = await ok(emu.endpoint, "StartSandboxInstance", {
        ToolId: toolId,
        Timeout: "10m",
        CustomConfiguration: { Env: [{ Name: "FROM_TOOL", Value: "yes" }] },
      });
      id = start.Instance.InstanceId as string;
      await waitStatus(emu.endpoint, id, "RUNNING", 90_000);
    } finally {
      if (saved === undefined) delete process.env.TENCENTCLOUD_SECRET_KEY;
      else process.env.TENCENTCLOUD_SECRET_KEY = saved;
    }
    const { Token } = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const post = gatewayPoster(`https://8000-${id}.ap-chongqing.tencentags.com`, Token, emu.dispatcher());
    const ran = await post("/execute", { command: "env", shell: true, timeout: 30 });
    expect(ran.status, JSON.stringify(ran.json)).toBe(200);
    const env = String(ran.json.stdout);
    expect(env).toContain("FROM_TOOL=yes");
    expect(env).toMatch(/^PATH=/m);
    // Its own empty home, as in a fresh image: not the emulator user's start-up files and history.
    expect(env).toMatch(/^HOME=.*swerex-agsemu-home-/m);
    expect(env).not.toContain("TENCENTCLOUD_SECRET_KEY");
    expect(env).not.toContain("emulator-process-secret-canary");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
  });

  it("creates a session and runs `echo hi` through the gateway at the production URL", async () => {
    const start = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "10m" });
    const id = start.Instance.InstanceId as string;
    await waitStatus(emu.endpoint, id, "RUNNING", 90_000);
    const { Token } = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const base = `https://8000-${id}.ap-chongqing.tencentags.com`;
    const dispatcher = emu.dispatcher();
    const post = gatewayPoster(base, Token, dispatcher, { "X-API-Key": "" });
    const alive = await request(`${base}/is_alive`, { dispatcher, headers: { "X-Access-Token": Token } });
    expect(alive.statusCode).toBe(200);
    expect(await alive.body.json()).toMatchObject({ is_alive: true });
    const created = await post("/create_session", {
      session: "default",
      session_type: "bash",
      startup_timeout: 30,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const ran = await post("/run_in_session", {
      session: "default",
      command: "echo hi",
      action_type: "bash",
      timeout: 30,
    });
    expect(ran.status, JSON.stringify(ran.json)).toBe(200);
    expect(String(ran.json.output).trim()).toBe("hi");
    expect(ran.json.exit_code).toBe(0);
    const exec = await post("/execute", { command: "echo $((6*7))", shell: true, timeout: 30 });
    expect(exec.json.stdout).toBe("42\n");
    // Stop: the runtime process goes away and the gateway answers 404.
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "STOPPED", 30_000);
    const gone = await request(`${base}/is_alive`, { dispatcher, headers: { "X-Access-Token": Token } });
    expect(gone.statusCode).toBe(404);
    await gone.body.dump();
  });

  it("pause freezes the runtime process and resume continues it", async () => {
    const start = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    const id = start.Instance.InstanceId as string;
    await waitStatus(emu.endpoint, id, "RUNNING", 90_000);
    await ok(emu.endpoint, "PauseSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "PAUSED");
    await ok(emu.endpoint, "ResumeSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "RUNNING");
    const { Token } = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const alive = await request(`${emu.instanceUrl(id, 8000)}/is_alive`, {
      dispatcher: emu.dispatcher(),
      headers: { "X-Access-Token": Token },
      signal: AbortSignal.timeout(30_000),
    });
    expect(alive.statusCode).toBe(200);
    await alive.body.dump();
  });

  it("a runtime process that dies on its own is detected: FAILED with StopReason error", async () => {
    const start = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    const id = start.Instance.InstanceId as string;
    await waitStatus(emu.endpoint, id, "RUNNING", 90_000);
    const { Token } = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    // Kill the server from inside the sandbox, as a crash would.
    await request(`${emu.instanceUrl(id, 8000)}/execute`, {
      method: "POST",
      dispatcher: emu.dispatcher(),
      headers: { "content-type": "application/json", "X-Access-Token": Token },
      body: JSON.stringify({ command: "kill -9 $PPID", shell: true, timeout: 10 }),
    })
      .then((r) => r.body.dump())
      .catch(() => undefined);
    await waitFor("FAILED", async () => {
      const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
      return d.InstanceSet[0].Status === "FAILED" ? d.InstanceSet[0] : undefined;
    });
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].StopReason).toBe("error");
  });

  it("a probe that never succeeds ends in STARTING_FAILED after ReadyTimeoutMs", async () => {
    const bad = await activeTool(emu.endpoint, {
      CustomConfiguration: {
        ...SWEREX_TOOL.CustomConfiguration,
        Probe: { HttpGet: { Path: "/no-such-path", Port: 8000 }, ReadyTimeoutMs: 1500, ProbePeriodMs: 200 },
      },
    });
    const start = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: bad });
    await waitStatus(emu.endpoint, start.Instance.InstanceId, "STARTING_FAILED", 90_000);
  });
});
