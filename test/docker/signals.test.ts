/**
 * No leaks across process death: SIGTERM of the owning process stops its deployments (registry handler);
 * after a SIGKILL, `swerex reap` finds the orphans by their owner labels and removes them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type CliResult, spawnSwerex } from "../helpers/cli.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
  testDeployment,
} from "./fixtures.js";

const label = fileLabel();
let image = "";
let bundleDir = "";
const children: ChildProcess[] = [];

/** Spawns child-deployment.ts and resolves with its container id once the deployment is up. */
function startChild(): Promise<{ child: ChildProcess; containerId: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/docker/child-deployment.ts", image, bundleDir, `${label.key}=${label.value}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`child did not start within 120 s: ${err}`)), 120_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /STARTED (\w+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, containerId: m[1] });
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before starting: ${err}`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("child did not exit within 90 s")), 90_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

function reap(args: string[]): Promise<CliResult> {
  return spawnSwerex(["reap", ...args], { timeoutMs: 120_000 }).done;
}

// Generous: many engineers\' test runs share two cores; nothing here asserts speed.
describeDocker("process death (real engine)", { timeout: 180_000 }, () => {
  beforeAll(async () => {
    [image, bundleDir] = await Promise.all([busyboxImage(), testBundle()]);
  }, 5 * 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await removeContainersWithLabel(label.filter);
  });

  it("SIGTERM of the owning process removes its container", async () => {
    const { child, containerId } = await startChild();
    expect((await containersWithLabel(label.filter)).map((c) => c.Id)).toEqual([containerId]);
    child.kill("SIGTERM");
    const { signal } = await exited(child);
    // The registry re-raises the signal after clean-up, so the process still dies "by SIGTERM".
    expect(signal).toBe("SIGTERM");
    expect(await containersWithLabel(label.filter)).toEqual([]);
  });

  it("swerex reap removes the orphans of a SIGKILLed process, and only those", async () => {
    const { child, containerId } = await startChild();
    // A deployment of this (live) process, with the same label: reap must leave it alone.
    const mine = testDeployment({ image, bundleDir, labels: label.labels });
    try {
      await mine.start();
      child.kill("SIGKILL");
      await exited(child);
      const left = await containersWithLabel(label.filter);
      expect(left.map((c) => c.Id).sort()).toEqual([containerId, mine.containerId].sort());

      const dry = await reap(["--dry-run", "--label", label.filter]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(
        new RegExp(`^would remove \\S+ ${containerId.slice(0, 12)} .*\\(dead\\)\\n$`),
      );
      expect((await containersWithLabel(label.filter)).length).toBe(2);

      const real = await reap(["--label", label.filter]);
      expect(real.code).toBe(0);
      expect(real.stdout).toMatch(new RegExp(`^removed \\S+ ${containerId.slice(0, 12)} `));
      expect((await containersWithLabel(label.filter)).map((c) => c.Id)).toEqual([mine.containerId]);
      expect((await mine.isAlive({ timeoutMs: 5000 })).is_alive).toBe(true);

      // --all takes live owners' containers too.
      const all = await reap(["--all", "--label", label.filter]);
      expect(all.stdout).toMatch(/^removed \S+ \w{12} .*\(alive\)\n$/);
      expect(await containersWithLabel(label.filter)).toEqual([]);
    } finally {
      await mine.stop();
    }
  });
});
