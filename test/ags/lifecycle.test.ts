/** TencentAGSDeployment against the AGS emulator over real HTTP, with a real swerex-remote per instance. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgsClient, resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { EnvironmentExpiredError } from "../../src/runtime/errors.js";
import {
  emulatorConfig,
  instanceStatus,
  SECRET_ID,
  SECRET_KEY,
  startEmulator,
  waitUntil,
} from "./emulator-helpers.js";

let emu: AgsEmulator;
const deployments: TencentAGSDeployment[] = [];

beforeAll(async () => {
  emu = await startEmulator({ backend: "local" });
});
afterEach(async () => {
  await Promise.allSettled(deployments.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  resetSharedAgsClients();
  await emu?.close();
});

function deployment(extra: Parameters<typeof emulatorConfig>[1] = {}) {
  const d = new TencentAGSDeployment(emulatorConfig(emu, extra), {
    dispatcher: emu.dispatcher(),
    pollIntervalMs: 100,
  });
  deployments.push(d);
  return d;
}

describe("TencentAGSDeployment lifecycle (emulator, local backend)", () => {
  it("without tool_id: creates the tool, starts, runs commands, stops", async () => {
    const d = deployment({
      mount_image: "registry.example/swerex-runtime:1",
      mount_name: "rex",
      role_arn: "qcs::cam::uin/100000001:roleName/swerex",
    });
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    expect(steps).toEqual([
      "Preparing sandbox tool",
      "Starting sandbox instance",
      "Acquiring access token",
      "Connecting to runtime",
      "Runtime is alive",
    ]);
    const id = d.instanceId as string;
    expect(id).toBeTruthy();
    expect((await d.isAlive()).is_alive).toBe(true);

    await d.runtime.createSession({ session: "main", startup_timeout: 30 });
    const obs = await d.runtime.runInSession({
      session: "main",
      command: "x=41; echo $((x+1))",
      timeout: 30,
    });
    expect(obs.output.trim()).toBe("42");
    expect(obs.exit_code).toBe(0);
    const exec = await d.runtime.execute({ command: "echo hi", shell: true, timeout: 30 });
    expect(exec.stdout).toBe("hi\n");

    const tools = emu.listTools();
    expect(tools).toHaveLength(1);
    const tool = tools[0] as Record<string, unknown>;
    expect(tool.ToolName).toMatch(/^swerex-ts-[0-9a-f]{20}$/);
    expect(tool.Status).toBe("ACTIVE");
    expect(tool.RoleArn).toBe("qcs::cam::uin/100000001:roleName/swerex");
    expect(tool.StorageMounts).toEqual([
      {
        Name: "rex",
        MountPath: "/nix",
        ReadOnly: false,
        StorageSource: {
          Image: {
            Reference: "registry.example/swerex-runtime:1",
            ImageRegistryType: "enterprise",
            SubPath: "/nix",
          },
        },
      },
    ]);

    await d.stop();
    expect(d.instanceId).toBeUndefined();
    const inst = emu.listInstances().find((i) => i.InstanceId === id);
    expect(inst?.Status).toMatch(/^STOPP(ING|ED)$/);
    await d.stop(); // idempotent
    expect(() => d.runtime).toThrow(/not started/i);
  });

  it("with tool_id: verifies the tool and starts from it with a per-instance image override", async () => {
    const client = new AgsClient({
      secretId: SECRET_ID,
      secretKey: SECRET_KEY,
      region: "ap-chongqing",
      endpoint: emu.endpoint,
    });
    const created = await client.call("CreateSandboxTool", {
      ToolName: "user-made-tool",
      ToolType: "custom",
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
      CustomConfiguration: {
        Image: "python:3.11",
        Command: ["/bin/sh", "-c"],
        Args: ["exec swerex-remote --port 8000 --auth-token ''"],
        Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }],
        Probe: {
          HttpGet: { Path: "/", Port: 8000, Scheme: "HTTP" },
          ReadyTimeoutMs: 60_000,
          ProbePeriodMs: 200,
        },
      },
    });
    const toolId = created.ToolId as string;
    const ownToolsBefore = emu.listTools().filter((t) => String(t.ToolName).startsWith("swerex-ts-")).length;
    const d = deployment({
      tool_id: toolId,
      image: "swebench/sweb.eval.x86_64.demo:latest",
      image_registry_type: "system",
    });
    await d.start();
    expect(d.toolId).toBe(toolId);
    const inst = emu.listInstances().find((i) => i.InstanceId === d.instanceId) as Record<string, unknown>;
    expect(inst.ToolId).toBe(toolId);
    expect(inst.CustomConfiguration).toMatchObject({
      Image: "swebench/sweb.eval.x86_64.demo:latest",
      ImageRegistryType: "system",
    });
    expect((await d.runtime.execute({ command: "echo ok", shell: true })).stdout).toBe("ok\n");
    // No tool of our own was created.
    expect(emu.listTools().filter((t) => String(t.ToolName).startsWith("swerex-ts-")).length).toBe(
      ownToolsBefore,
    );
    client.close();
  });

  it("a stopped instance gives EnvironmentExpiredError", async () => {
    const d = deployment();
    await d.start();
    emu.inject.expireInstance(d.instanceId as string);
    await waitUntil(() => instanceStatus(emu, d.instanceId) === "STOPPED", 30_000, "STOPPED");
    await expect(
      d.runtime.execute({ command: "echo late", shell: true, timeout: 10 }),
    ).rejects.toBeInstanceOf(EnvironmentExpiredError);
    const alive = await d.isAlive();
    expect(alive.is_alive).toBe(false);
    expect(alive.message).toBe(`SandboxInstance ${d.instanceId} is STOPPED (StopReason timeout)`);
    await d.stop(); // the instance is already stopped: still fine
  });
});
