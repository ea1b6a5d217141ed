/**
 * The headline: `swerex run --instances.deployment.type=docker --instances.deployment.image=IMG -- 'cmd'`
 * as a real process against a real engine (skipped without one unless CI is set, see test/docker/fixtures.ts).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";

const label = fileLabel();
let image: string;
let bundleDir: string;

beforeAll(async () => {
  [image, bundleDir] = await Promise.all([busyboxImage(), testBundle()]);
}, 600_000);
afterAll(async () => {
  await removeContainersWithLabel(label.filter);
});

function swerexRun(extra: string[], command: string) {
  const args = [
    "--import",
    "tsx",
    "src/cli/swerex.ts",
    "run",
    "--instances.deployment.type=docker",
    `--instances.deployment.image=${image}`,
    "--instances.deployment.pull=never",
    `--instances.deployment.runtime_mount=${bundleDir}`,
    `--instances.deployment.labels=${JSON.stringify(label.labels)}`,
    ...extra,
    "--",
    command,
  ];
  const child = spawn(process.execPath, args, {
    cwd: join(import.meta.dirname, "../.."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`swerex run did not exit within 180s; stderr: ${stderr}`));
    }, 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

describeDocker("swerex run with a docker deployment", () => {
  it("prints the output, exits with the command's code, and removes the container", async () => {
    const r = await swerexRun([], "echo hi from docker; exit 4").done;
    expect(r.stdout).toBe("hi from docker\n");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("swerex: Starting runtime\n");
    expect(await containersWithLabel(label.filter)).toEqual([]);
  }, 240_000);

  it("removes the container when interrupted by SIGTERM and exits 143", async () => {
    const run = swerexRun([], "sleep 120");
    const deadline = Date.now() + 170_000;
    let seen = false;
    while (!seen && Date.now() < deadline && run.child.exitCode === null) {
      seen = (await containersWithLabel(label.filter)).some((c) => c.State === "running");
      if (!seen) await new Promise((res) => setTimeout(res, 250));
    }
    expect(seen).toBe(true);
    // Let the session start the command; the outcome must be the same if the signal comes earlier.
    await new Promise((res) => setTimeout(res, 2000));
    run.child.kill("SIGTERM");
    const r = await run.done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain("swerex: SIGTERM received, stopping deployments");
    expect(await containersWithLabel(label.filter)).toEqual([]);
  }, 240_000);
});
