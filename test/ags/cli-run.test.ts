/** `swerex run --instances.deployment.type=tencentags ...` against a running emulator, as docs/ags.md shows. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { SECRET_ID, SECRET_KEY, startEmulator } from "./emulator-helpers.js";

const REPO = new URL("../../", import.meta.url).pathname;
let emu: AgsEmulator;

beforeAll(async () => {
  emu = await startEmulator({ backend: "local" });
});
afterAll(async () => {
  await emu?.close();
});

describe("swerex run with type=tencentags", () => {
  it("runs the command in an AGS sandbox of the emulator and stops it", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/swerex.ts",
        "run",
        "--instances.deployment.type=tencentags",
        `--instances.deployment.http_endpoint=${emu.endpoint}`,
        `--instances.deployment.gateway_address=${emu.gatewayUrl}`,
        "--instances.deployment.startup_timeout=120",
        "--",
        "echo hi from ags; exit 3",
      ],
      {
        cwd: REPO,
        env: { ...process.env, TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
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
    const instances = emu.listInstances();
    expect(instances).toHaveLength(1);
    expect(instances[0]?.Status).toMatch(/^STOPP(ING|ED)$/);
  }, 240_000);
});
