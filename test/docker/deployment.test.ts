/** DockerDeployment against the real engine: lifecycle, fail-fast, time-outs, stop guarantees, limits, concurrency. */
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { DockerDeployment } from "../../src/deployment/docker/deployment.js";
import { LABEL_MANAGED, LABEL_OWNER_PID } from "../../src/deployment/owner.js";
import { activeDeployments } from "../../src/deployment/registry.js";
import {
  DeploymentNotStartedError,
  DeploymentStartupError,
  DockerPullError,
  PythonTimeoutError,
} from "../../src/runtime/errors.js";
import {
  busyboxImage,
  containersWithLabel,
  type DockerConfigInput,
  describeDocker,
  docker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
  testDeployment,
} from "./fixtures.js";

const label = fileLabel();
let image = "";
let bundleDir = "";
const started: DockerDeployment[] = [];

function deployment(extra: DockerConfigInput = {}): DockerDeployment {
  const d = testDeployment({ image, bundleDir, labels: label.labels }, extra);
  started.push(d);
  return d;
}

async function engineHas(id: string): Promise<boolean> {
  return docker
    .getContainer(id)
    .inspect()
    .then(
      () => true,
      (err: { statusCode?: number }) => {
        if (err.statusCode === 404) return false;
        throw err;
      },
    );
}

// Generous: many engineers\' test runs share two cores; nothing here asserts speed.
describeDocker("DockerDeployment (real engine)", { timeout: 180_000 }, () => {
  beforeAll(async () => {
    [image, bundleDir] = await Promise.all([busyboxImage(), testBundle()]);
  }, 5 * 60_000);

  afterAll(async () => {
    await Promise.allSettled(started.map((d) => d.stop()));
    expect(await removeContainersWithLabel(label.filter)).toBe(0);
  });

  it("reports progress as events and never writes to stderr itself", async () => {
    const d = new DockerDeployment({
      image,
      pull: "never",
      runtime_mount: bundleDir,
      labels: label.labels,
      startup_timeout: 120,
    });
    started.push(d);
    const progress: string[] = [];
    d.on("progress", (m) => progress.push(m));
    const writes = vi.spyOn(process.stderr, "write");
    try {
      await d.start();
      await d.stop();
      expect(writes.mock.calls.filter((c) => String(c[0]).includes("swerex"))).toEqual([]);
    } finally {
      writes.mockRestore();
    }
    expect(progress.some((m) => /^started container \S+; waiting for the runtime on port \d+$/.test(m))).toBe(
      true,
    );
  });

  it("describes what it holds, for a process that has to leave it behind", async () => {
    const d = deployment();
    await d.start();
    expect(d.describe()).toBe(`docker container ${d.containerName} (${d.containerId?.slice(0, 12)})`);
    await d.stop();
  });

  it("starts, is alive, runs a command, stops and removes its container", async () => {
    const d = deployment();
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    expect(() => d.runtime).toThrow(DeploymentNotStartedError);
    expect(await d.isAlive()).toEqual({ is_alive: false, message: "Runtime not started" });
    await d.start();
    expect(steps).toEqual(["Starting runtime"]);
    expect(await d.isAlive({ timeoutMs: 5000 })).toEqual({ is_alive: true, message: "" });
    const r = await d.runtime.execute({ command: "echo hello from $(hostname)", shell: true });
    expect(r.exit_code).toBe(0);
    expect(r.stdout).toMatch(/^hello from \w+\n$/);
    expect(activeDeployments()).toContain(d);

    const id = d.containerId ?? "";
    const info = await docker.getContainer(id).inspect();
    expect(info.Name).toBe(`/${d.containerName}`);
    expect(d.containerName).toMatch(/^swerex-testbusybox1-[0-9a-f-]{36}$/);
    expect(info.HostConfig.Memory).toBe(8 * 1024 ** 3); // memory_limit default "8g"
    expect(info.NetworkSettings.Ports["8000/tcp"]?.[0]?.HostIp).toBe("127.0.0.1");
    const mount = info.Mounts.find((m) => m.Destination === "/nix/swerex");
    expect(mount).toMatchObject({ Source: bundleDir, RW: false });

    await d.stop();
    expect(await engineHas(id)).toBe(false);
    expect(() => d.runtime).toThrow(DeploymentNotStartedError);
    expect(activeDeployments()).not.toContain(d);
    await d.stop(); // idempotent
  });

  it("shows memory_limit, cpus, env, labels and docker_args in docker inspect", async () => {
    const d = deployment({
      memory_limit: "256m",
      cpus: 0.5,
      env: { FOO: "bar" },
      labels: { ...label.labels, team: "rl" },
      docker_args: ["--label=extra=1", "-e", "BAZ=qux", "--shm-size", "64m", "--ulimit", "nofile=1024:2048"],
    });
    await d.start();
    const info = await docker.getContainer(d.containerId ?? "").inspect();
    expect(info.HostConfig.Memory).toBe(268435456);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.ShmSize).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.Ulimits).toEqual([{ Name: "nofile", Soft: 1024, Hard: 2048 }]);
    expect(info.Config.Env).toEqual(expect.arrayContaining(["FOO=bar", "BAZ=qux"]));
    expect(info.Config.Labels).toMatchObject({
      team: "rl",
      extra: "1",
      [label.key]: label.value,
      [LABEL_MANAGED]: "true",
      [LABEL_OWNER_PID]: String(process.pid),
    });
    const env = await d.runtime.execute({ command: "echo $FOO-$BAZ", shell: true });
    expect(env.stdout).toBe("bar-qux\n");
    await d.stop();
  });

  it("fails at once with the logs when the container exits during start-up, and leaves nothing", async () => {
    // The shell runs our script; the start command becomes its $0 and is never run.
    const d = deployment({
      exec_shell: ["/bin/sh", "-c", "echo boom-marker >&2; exit 3"],
      startup_timeout: 600,
    });
    const t0 = Date.now();
    const err = await d.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeploymentStartupError);
    expect((err as Error).message).toMatch(/Container process terminated \(exit code 3\)/);
    expect((err as Error).message).toContain("boom-marker");
    // Far below the 600 s startup_timeout: the exit ended the wait.
    expect(Date.now() - t0).toBeLessThan(120_000);
    expect(await containersWithLabel(label.filter)).toEqual([]);
  });

  it("startup_timeout exceeded: TimeoutError and no container left", async () => {
    const d = deployment({
      exec_shell: ["/bin/sh", "-c", "echo still-waiting; sleep 600"],
      startup_timeout: 2,
    });
    const err = await d.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PythonTimeoutError);
    expect((err as Error).message).toMatch(
      /^Runtime did not start within 2\.0s \(tried to connect \d+ times\)/,
    );
    expect((err as Error).message).toContain("still-waiting");
    expect(await containersWithLabel(label.filter)).toEqual([]);
    expect(activeDeployments()).not.toContain(d);
  });

  it("stop() after the server inside died still removes the container", async () => {
    const d = deployment();
    await d.start();
    const id = d.containerId ?? "";
    // Kill the server process (the parent of the shell that runs this command).
    await d.runtime.execute({ command: "kill -9 $PPID", shell: true }).catch(() => undefined);
    const deadline = Date.now() + 60_000;
    while ((await d.isAlive({ timeoutMs: 1000 })).is_alive) {
      if (Date.now() > deadline) throw new Error("server did not die");
      await new Promise((r) => setTimeout(r, 200));
    }
    await d.stop();
    expect(await engineHas(id)).toBe(false);
  });

  it("pull=never with a missing image: DockerPullError", async () => {
    const d = deployment({ image: "swerex-test/does-not-exist:never", pull: "never" });
    await expect(d.start()).rejects.toThrow(DockerPullError);
    await expect(d.start()).rejects.toThrow(
      "Image swerex-test/does-not-exist:never is not present locally and pull is 'never'",
    );
  });

  it("pull=missing from an unreachable registry: DockerPullError naming the image", async () => {
    const d = deployment({ image: "127.0.0.1:9/swerex/none:1", pull: "missing" });
    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    const err = await d.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DockerPullError);
    expect((err as Error).message).toMatch(/^Failed to pull image 127\.0\.0\.1:9\/swerex\/none:1\. Error: /);
    expect(steps).toEqual(["Pulling container image"]);
  });

  it("remove_container=false keeps the stopped container (labelled so reap only stops it)", async () => {
    const d = deployment({ remove_container: false });
    await d.start();
    const id = d.containerId ?? "";
    await d.stop();
    const info = await docker.getContainer(id).inspect();
    expect(info.State.Running).toBe(false);
    expect(info.Config.Labels["swerex.keep"]).toBe("true");
    await docker.getContainer(id).remove({ force: true });
  });

  it("8 deployments start concurrently and all work", async () => {
    const ds = Array.from({ length: 8 }, () => deployment());
    try {
      await Promise.all(ds.map((d) => d.start()));
      const outs = await Promise.all(
        ds.map((d, i) => d.runtime.execute({ command: `echo n-${i}`, shell: true }).then((r) => r.stdout)),
      );
      expect(outs).toEqual(ds.map((_, i) => `n-${i}\n`));
      expect(new Set(ds.map((d) => d.containerId)).size).toBe(8);
    } finally {
      await Promise.all(ds.map((d) => d.stop()));
    }
    expect(await containersWithLabel(label.filter)).toEqual([]);
  });

  it("an aborted start removes what it created", async () => {
    const d = deployment({ exec_shell: ["/bin/sh", "-c", "sleep 600"], startup_timeout: 600 });
    const controller = new AbortController();
    const starting = d.start({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user gave up")), 1500);
    await expect(starting).rejects.toThrow("user gave up");
    expect(await containersWithLabel(label.filter)).toEqual([]);
  });
});
