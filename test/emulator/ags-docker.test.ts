import { afterAll, beforeAll, expect, it } from "vitest";
import { buildBundleImage } from "../../src/bundle/image.js";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  docker,
  fileLabel,
  removeContainersWithLabel,
} from "../docker/fixtures.js";
import { activeTool, gatewayPoster, ok, testEmulator, waitStatus } from "./helpers.js";

const BUNDLE_TAG = "swerex-runtime:ags-emulator-test";

describeDocker("AGS emulator: docker backend with the runtime bundle image mounted at /nix", () => {
  let emu: AgsEmulator | undefined;
  const label = fileLabel();
  let toolId = "";
  let taskImage = "";

  beforeAll(async () => {
    [taskImage] = await Promise.all([busyboxImage(), buildBundleImage({ tag: BUNDLE_TAG, docker })]);
    emu = await testEmulator({
      backend: "docker",
      docker: { docker, labels: label.labels },
      sweepIntervalMs: 500,
    });
    // The SWE-ReX "custom tool + swerex mount" shape (spec/ags.md §4.1), with a task image that has no node.
    toolId = await activeTool(emu.endpoint, {
      RoleArn: "qcs::cam::uin/100000001:roleName/test_role",
      CustomConfiguration: {
        Image: taskImage,
        ImageRegistryType: "enterprise",
        Command: ["/bin/sh", "-c"],
        Args: ["/nix/swerex/run-swerex --port 8000 --auth-token ''"],
        Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }],
        Env: [{ Name: "AGSEMU_MARK", Value: "from-tool" }],
        Probe: {
          HttpGet: { Path: "/", Port: 8000, Scheme: "HTTP" },
          ReadyTimeoutMs: 120_000,
          ProbePeriodMs: 500,
        },
      },
      StorageMounts: [
        {
          Name: "rex",
          MountPath: "/nix",
          ReadOnly: true,
          StorageSource: {
            Image: { Reference: BUNDLE_TAG, ImageRegistryType: "enterprise", SubPath: "/nix" },
          },
        },
      ],
    });
  }, 600_000);

  afterAll(async () => {
    await emu?.close();
    await removeContainersWithLabel(label.filter);
  });

  it("starts a container from the tool's image, runs `echo hi` through the gateway, pauses, stops", async () => {
    if (!emu) throw new Error("emulator did not start");
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "10m" });
    const id = r.Instance.InstanceId as string;
    await waitStatus(emu.endpoint, id, "RUNNING", 180_000);
    const containers = await containersWithLabel(`swerex.ags-emulator.instance=${id}`);
    expect(containers).toHaveLength(1);
    expect(containers[0]?.Image).toBe(taskImage);
    expect(containers[0]?.Labels[label.key]).toBe(label.value);
    const { Token } = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const dispatcher = emu.dispatcher();
    const post = gatewayPoster(emu.instanceUrl(id, 8000), Token, dispatcher);
    const created = await post("/create_session", {
      session: "s",
      session_type: "bash",
      startup_timeout: 60,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const ran = await post("/run_in_session", {
      session: "s",
      command: "echo hi",
      action_type: "bash",
      timeout: 60,
    });
    expect(ran.status, JSON.stringify(ran.json)).toBe(200);
    expect(String(ran.json.output).trim()).toBe("hi");
    // The tool's Env reached the container; the mount is read-only as configured.
    const env = await post("/execute", {
      command: "echo $AGSEMU_MARK; touch /nix/x 2>&1 || echo ro",
      shell: true,
      timeout: 30,
    });
    expect(String(env.json.stdout)).toContain("from-tool");
    expect(String(env.json.stdout)).toContain("ro");
    await ok(emu.endpoint, "PauseSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "PAUSED");
    const paused = await docker.getContainer(containers[0]?.Id as string).inspect();
    expect(paused.State.Paused).toBe(true);
    await ok(emu.endpoint, "ResumeSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "RUNNING");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "STOPPED", 60_000);
    expect(await containersWithLabel(`swerex.ags-emulator.instance=${id}`)).toHaveLength(0);
  });

  it("an image that is not in the engine ends STARTING_FAILED; close() removes containers and volumes", async () => {
    if (!emu) throw new Error("emulator did not start");
    const r = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      CustomConfiguration: { Image: "swerex-test/does-not-exist:0" },
    });
    await waitStatus(emu.endpoint, r.Instance.InstanceId, "STARTING_FAILED", 60_000);
    const live = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    await waitStatus(emu.endpoint, live.Instance.InstanceId, "RUNNING", 180_000);
    expect(await containersWithLabel(label.filter)).toHaveLength(1);
    await emu.close();
    emu = undefined;
    expect(await containersWithLabel(label.filter)).toHaveLength(0);
    const vols = await docker.listVolumes({ filters: { label: [label.filter] } });
    expect(vols.Volumes ?? []).toHaveLength(0);
  });
});
