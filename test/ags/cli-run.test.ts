/**
 * `swerex run --instances.deployment.type=tencentags ...` against a running emulator, as docs/ags.md shows:
 * with the emulator's local backend, and with its docker backend, where the sandbox is the busybox image and
 * the runtime comes from the bundle image mounted at /nix (the `swerex bundle image` recipe of the docs).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SECRET_ID, SECRET_KEY } from "./emulator-helpers.js";
import {
  BACKENDS,
  type BackendEmulator,
  describeBackend,
  ROLE_ARN,
  startBackendEmulator,
} from "./sandbox-backends.js";

const REPO = new URL("../../", import.meta.url).pathname;

for (const backend of BACKENDS) {
  describeBackend(backend)(`swerex run with type=tencentags (${backend} backend)`, () => {
    let env: BackendEmulator;

    beforeAll(async () => {
      env = await startBackendEmulator(backend);
    }, 600_000);
    afterAll(async () => {
      await env?.close();
    });

    it("runs the command in an AGS sandbox of the emulator and stops it", async () => {
      const { image, mount_image } = env.config;
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "src/cli/swerex.ts",
          "run",
          "--instances.deployment.type=tencentags",
          `--instances.deployment.http_endpoint=${env.emu.endpoint}`,
          `--instances.deployment.gateway_address=${env.emu.gatewayUrl}`,
          "--instances.deployment.startup_timeout=120",
          ...(image ? [`--instances.deployment.image=${image}`] : []),
          ...(mount_image ? [`--instances.deployment.mount_image=${mount_image}`] : []),
          "--",
          "echo hi from ags; exit 3",
        ],
        {
          cwd: REPO,
          env: {
            ...process.env,
            TENCENTCLOUD_SECRET_ID: SECRET_ID,
            TENCENTCLOUD_SECRET_KEY: SECRET_KEY,
            TENCENTCLOUD_ROLE_ARN: ROLE_ARN,
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => {
        stdout += String(b);
      });
      child.stderr.on("data", (b: Buffer) => {
        stderr += String(b);
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
      const [code] = (await once(child, "exit")) as [number];
      clearTimeout(timer);
      expect(stdout, stderr).toBe("hi from ags\n");
      expect(code, stderr).toBe(3);
      expect(stderr).not.toContain(SECRET_KEY);
      const instances = env.emu.listInstances();
      expect(instances).toHaveLength(1);
      expect(instances[0]?.Status).toMatch(/^STOPP(ING|ED)$/);
      if (mount_image) {
        expect(env.emu.listTools()[0]).toMatchObject({
          RoleArn: ROLE_ARN,
          CustomConfiguration: { Image: image },
          StorageMounts: [{ MountPath: "/nix", StorageSource: { Image: { Reference: mount_image } } }],
        });
      }
    }, 240_000);
  });
}
