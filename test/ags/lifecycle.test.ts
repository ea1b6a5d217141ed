/**
 * TencentAGSDeployment against the AGS emulator over real HTTP, on both sandbox backends: a swerex-remote
 * process per instance (`local`), and a container of a busybox image with the runtime bundle image mounted
 * at /nix (`docker`, as on real AGS).
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { AgsClient, resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { EnvironmentExpiredError } from "../../src/runtime/errors.js";
import { containersWithLabel } from "../docker/fixtures.js";
import { emulatorConfig, instanceStatus, SECRET_ID, SECRET_KEY, waitUntil } from "./emulator-helpers.js";
import {
  BACKENDS,
  type BackendEmulator,
  describeBackend,
  MOUNT_IMAGE,
  ROLE_ARN,
  startBackendEmulator,
} from "./sandbox-backends.js";

const START_COMMAND =
  "/nix/swerex/run-swerex --port 8000 --auth-token '' || swerex-remote --port 8000 --auth-token ''";

for (const backend of BACKENDS) {
  describeBackend(backend)(`TencentAGSDeployment lifecycle (emulator, ${backend} backend)`, () => {
    let env: BackendEmulator;
    const deployments: TencentAGSDeployment[] = [];

    beforeAll(async () => {
      env = await startBackendEmulator(backend);
    }, 600_000);
    afterEach(async () => {
      await Promise.allSettled(deployments.splice(0).map((d) => d.stop()));
    });
    afterAll(async () => {
      resetSharedAgsClients();
      await env?.close();
    });

    function deployment(extra: Parameters<typeof emulatorConfig>[1] = {}) {
      const d = new TencentAGSDeployment(emulatorConfig(env.emu, { ...env.config, ...extra }), {
        dispatcher: env.emu.dispatcher(),
        pollIntervalMs: 100,
      });
      deployments.push(d);
      return d;
    }

    /** The containers of an instance (docker backend). */
    const containersOf = (id: string) => containersWithLabel(`swerex.ags-emulator.instance=${id}`);

    it("without tool_id: creates the tool, starts, runs commands, stops", async () => {
      // On the local backend the mount is only declared (nothing mounts it); docker mounts the real bundle.
      const mountImage = backend === "docker" ? MOUNT_IMAGE : "registry.example/swerex-runtime:1";
      const d = deployment({ mount_image: mountImage, mount_name: "rex", role_arn: ROLE_ARN });
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
      if (backend === "docker") {
        // The sandbox is the busybox image: no node of its own, the server runs from the mounted bundle.
        const [container, ...more] = await containersOf(id);
        expect(more).toHaveLength(0);
        expect(container?.Image).toBe(env.config.image);
        const proof = await d.runtime.execute({
          command: "command -v node || echo no-node; test -x /nix/swerex/run-swerex && echo mounted",
          shell: true,
          timeout: 30,
        });
        expect(proof.stdout).toBe("no-node\nmounted\n");
      }

      const tools = env.emu.listTools();
      expect(tools).toHaveLength(1);
      const tool = tools[0] as Record<string, unknown>;
      expect(tool.ToolName).toMatch(/^swerex-ts-[0-9a-f]{20}$/);
      expect(tool.Status).toBe("ACTIVE");
      expect(tool.RoleArn).toBe(ROLE_ARN);
      expect(tool.CustomConfiguration).toMatchObject({
        Command: ["/bin/sh", "-c"],
        Args: [START_COMMAND],
      });
      expect(tool.StorageMounts).toEqual([
        {
          Name: "rex",
          MountPath: "/nix",
          ReadOnly: false,
          StorageSource: {
            Image: {
              Reference: mountImage,
              ImageRegistryType: "enterprise",
              SubPath: "/nix",
            },
          },
        },
      ]);

      await d.stop();
      expect(d.instanceId).toBeUndefined();
      const inst = env.emu.listInstances().find((i) => i.InstanceId === id);
      expect(inst?.Status).toMatch(/^STOPP(ING|ED)$/);
      if (backend === "docker") {
        await waitUntil(() => instanceStatus(env.emu, id) === "STOPPED", 60_000, "STOPPED");
        expect(await containersOf(id)).toHaveLength(0);
      }
      await d.stop(); // idempotent
      expect(() => d.runtime).toThrow(/not started/i);
    });

    it("with tool_id: verifies the tool and starts from it with a per-instance image override", async () => {
      const client = new AgsClient({
        secretId: SECRET_ID,
        secretKey: SECRET_KEY,
        region: "ap-chongqing",
        endpoint: env.emu.endpoint,
      });
      // On docker, the tool's own image is not in the engine and busybox has no swerex-remote: only the
      // per-instance override (image, and the start command from the mount) can make this start.
      const mount =
        backend === "docker"
          ? {
              RoleArn: ROLE_ARN,
              StorageMounts: [
                {
                  Name: "rex",
                  MountPath: "/nix",
                  ReadOnly: true,
                  StorageSource: {
                    Image: { Reference: MOUNT_IMAGE, ImageRegistryType: "enterprise", SubPath: "/nix" },
                  },
                },
              ],
            }
          : {};
      const override =
        backend === "docker"
          ? { image: env.config.image as string, image_registry_type: "enterprise" as const }
          : { image: "swebench/sweb.eval.x86_64.demo:latest", image_registry_type: "system" as const };
      const created = await client.call("CreateSandboxTool", {
        ToolName: "user-made-tool",
        ToolType: "custom",
        NetworkConfiguration: { NetworkMode: "PUBLIC" },
        ...mount,
        CustomConfiguration: {
          Image: backend === "docker" ? "swerex-test/never-built:0" : "python:3.11",
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
      const ownToolsBefore = env.emu
        .listTools()
        .filter((t) => String(t.ToolName).startsWith("swerex-ts-")).length;
      // No mount_image in the config: on docker the command must come from the tool's own mount.
      const d = deployment({ tool_id: toolId, ...override, mount_image: "" });
      await d.start();
      expect(d.toolId).toBe(toolId);
      const inst = env.emu.listInstances().find((i) => i.InstanceId === d.instanceId) as Record<
        string,
        unknown
      >;
      expect(inst.ToolId).toBe(toolId);
      expect(inst.CustomConfiguration).toMatchObject({
        Image: override.image,
        ImageRegistryType: override.image_registry_type,
        Args: [backend === "docker" ? START_COMMAND : "exec swerex-remote --port 8000 --auth-token ''"],
      });
      if (backend === "docker") {
        expect((await containersOf(d.instanceId as string))[0]?.Image).toBe(override.image);
      }
      expect((await d.runtime.execute({ command: "echo ok", shell: true })).stdout).toBe("ok\n");
      // No tool of our own was created.
      expect(env.emu.listTools().filter((t) => String(t.ToolName).startsWith("swerex-ts-")).length).toBe(
        ownToolsBefore,
      );
      client.close();
    });

    it("a stopped instance gives EnvironmentExpiredError", async () => {
      const d = deployment();
      await d.start();
      env.emu.inject.expireInstance(d.instanceId as string);
      await waitUntil(() => instanceStatus(env.emu, d.instanceId) === "STOPPED", 30_000, "STOPPED");
      await expect(
        d.runtime.execute({ command: "echo late", shell: true, timeout: 10 }),
      ).rejects.toBeInstanceOf(EnvironmentExpiredError);
      const alive = await d.isAlive();
      expect(alive.is_alive).toBe(false);
      expect(alive.message).toBe(`SandboxInstance ${d.instanceId} is STOPPED (StopReason timeout)`);
      await d.stop(); // the instance is already stopped: still fine
    });
  });
}
