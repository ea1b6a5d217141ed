/**
 * `swerex ags gc` against the emulator: instances of SIGKILLed owner processes are stopped, live owners
 * are left alone, unused tools are deleted, and in the end nothing is left running.
 * Local backend only: gc works on the control plane alone (Metadata, StopSandboxInstance, DeleteSandboxTool)
 * and never reaches a sandbox, so the docker backend would add container start time and prove nothing more.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import {
  emulatorConfig,
  inProcessBackend,
  SECRET_ID,
  SECRET_KEY,
  startEmulator,
  waitUntil,
} from "./emulator-helpers.js";

const REPO = new URL("../../", import.meta.url).pathname;
const ENV = {
  ...process.env,
  TENCENTCLOUD_SECRET_ID: SECRET_ID,
  TENCENTCLOUD_SECRET_KEY: SECRET_KEY,
  SWEREX_LOG_LEVEL: "error",
  http_proxy: "",
};

let emu: AgsEmulator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  emu = await startEmulator({ backend: inProcessBackend() });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  resetSharedAgsClients();
  await emu?.close();
});

/** Starts an owner process and resolves with the instance it started. */
async function orphanOwner(): Promise<{ child: ChildProcess; instanceId: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/ags/fixtures/orphan-owner.ts", emu.endpoint, emu.gatewayUrl, emu.domain],
    { cwd: REPO, env: ENV, stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  for await (const line of lines) {
    clearTimeout(timer);
    const msg = JSON.parse(line) as { instanceId: string; stdout: string };
    expect(msg.stdout).toBe("child-ok\n");
    return { child, instanceId: msg.instanceId };
  }
  throw new Error("owner process exited before reporting its instance");
}

async function gc(...args: string[]): Promise<{ code: number; stdout: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/swerex.ts", "ags", "gc", `--http_endpoint=${emu.endpoint}`, ...args],
    { cwd: REPO, env: ENV, stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  let stdout = "";
  child.stdout?.on("data", (b: Buffer) => {
    stdout += String(b);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [code] = (await once(child, "exit")) as [number];
  clearTimeout(timer);
  return { code, stdout };
}

const status = (id: string) => emu.listInstances().find((i) => i.InstanceId === id)?.Status;

describe("swerex ags gc", () => {
  it("stops orphans, keeps live owners, deletes unused tools, and leaves nothing running", async () => {
    const [a, b] = await Promise.all([orphanOwner(), orphanOwner()]);
    for (const o of [a, b]) {
      o.child.kill("SIGKILL");
      await once(o.child, "exit");
    }
    const mine = new TencentAGSDeployment(emulatorConfig(emu), {
      dispatcher: emu.dispatcher(),
      pollIntervalMs: 100,
    });
    await mine.start();
    const mineId = mine.instanceId as string;
    expect(emu.listTools()).toHaveLength(1);

    const dry = await gc("--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would stop instance ${a.instanceId}`);
    expect(dry.stdout).toContain(`would stop instance ${b.instanceId}`);
    expect(dry.stdout).toMatch(new RegExp(`kept instance ${mineId} .*\\(alive\\)`));
    expect([status(a.instanceId), status(b.instanceId), status(mineId)]).toEqual([
      "RUNNING",
      "RUNNING",
      "RUNNING",
    ]);

    const first = await gc();
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`stopped instance ${a.instanceId} .*\\(dead\\)`));
    expect(first.stdout).toMatch(new RegExp(`stopped instance ${b.instanceId} .*\\(dead\\)`));
    expect(first.stdout).toMatch(/kept tool sdt-\S+ swerex-ts-\S+ \(has live instances\)/);
    expect(status(a.instanceId)).toMatch(/^STOPP(ING|ED)$/);
    expect(status(b.instanceId)).toMatch(/^STOPP(ING|ED)$/);
    expect(status(mineId)).toBe("RUNNING");
    expect((await mine.runtime.execute({ command: "echo still-here", shell: true })).stdout).toBe(
      "still-here\n",
    );

    await mine.stop();
    const second = await gc();
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/deleted tool sdt-\S+ swerex-ts-/);
    await waitUntil(() => emu.listTools().length === 0, 30_000, "tool deletion");
    expect(emu.listInstances().every((i) => i.Status === "STOPPED")).toBe(true);
  }, 300_000);
});
