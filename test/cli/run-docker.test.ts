/**
 * The headline: `swerex run --instances.deployment.type=docker --instances.deployment.image=IMG -- 'cmd'`
 * as a real process against a real engine (skipped without one unless CI is set, see test/docker/fixtures.ts).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  docker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import { spawnSwerex } from "../helpers/cli.js";

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
  return spawnSwerex(args, { timeoutMs: 180_000 });
}

describeDocker("swerex run with a docker deployment", () => {
  it("prints the output, exits with the command's code, and removes the container", async () => {
    const r = await swerexRun([], "echo hi from docker; exit 4").done;
    expect(r.stdout).toBe("hi from docker\n");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('"msg":"Starting runtime"');
    expect(await containersWithLabel(label.filter)).toEqual([]);
  }, 240_000);

  it("a second Ctrl-C exits at once, naming the container it leaves and swerex reap", async () => {
    const run = swerexRun([], "echo started; sleep 120");
    const deadline = Date.now() + 170_000;
    while (!run.output().includes("started\n") && Date.now() < deadline && run.child.exitCode === null)
      await new Promise((res) => setTimeout(res, 100));
    expect(run.output()).toContain("started\n");
    const [container] = await containersWithLabel(label.filter);
    // Paused, its server cannot answer /close: clean-up then waits (5 s), so the second Ctrl-C surely
    // comes while it is still going on. (Two signals sent at once may arrive as one.)
    await docker.getContainer(container?.Id ?? "").pause();
    run.child.kill("SIGINT");
    while (!run.output().includes("SIGINT received") && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code).toBe(130);
    const name = container?.Names?.[0]?.replace(/^\//, "");
    expect(r.stderr).toContain(
      `swerex: second SIGINT: exiting without finishing clean-up; left behind:\n  docker container ${name} (${container?.Id.slice(0, 12)})\n` +
        "swerex: run `swerex reap` to remove them",
    );
    // What reap is for: the owner is gone now.
    const reap = await spawnSwerex(["reap", "--label", label.filter], { timeoutMs: 120_000 }).done;
    expect(reap.code).toBe(0);
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
