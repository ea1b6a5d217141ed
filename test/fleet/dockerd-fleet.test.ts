/**
 * The fleet test helper itself: engines side by side with the shared one, each on its own address, socket,
 * directories and bridge; one engine stopped and started again; nothing left after destroy().
 */

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetHealth } from "../../src/controlplane/fleet-health.js";
import { DockerDeployment } from "../../src/deployment/docker/deployment.js";
import { pingEngine } from "../../src/docker/engine.js";
import { dockerClientFor } from "../../src/docker/hosts.js";
import { fileLabel, docker as sharedEngine, testBundle } from "../docker/fixtures.js";
import { BUSYBOX_IMAGE } from "../docker/images.js";
import { type DockerdFleet, fleetUnavailable, startDockerdFleet } from "../helpers/dockerd-fleet.js";
import { processAlive } from "../helpers/process.js";

const skip = fleetUnavailable();
if (skip) console.warn(`skipping fleet tests: ${skip}`);

describe.skipIf(skip !== undefined)("dockerd fleet helper", () => {
  let fleet: DockerdFleet | undefined;
  const label = fileLabel();

  beforeAll(async () => {
    fleet = await startDockerdFleet({ names: ["a", "b"], withBusybox: ["a"] });
  }, 180_000);

  afterAll(async () => {
    await fleet?.destroy();
  }, 120_000);

  it("runs each engine on its own loopback address, socket and bridge, never docker0", async () => {
    const [a, b] = fleet?.engines ?? [];
    if (!a || !b) throw new Error("fleet missing");
    expect(new URL(a.dockerHost).hostname).toBe("127.0.0.2");
    expect(new URL(b.dockerHost).hostname).toBe("127.0.0.3");
    expect(a.bridge).not.toBe(b.bridge);
    for (const e of [a, b]) {
      await pingEngine(e.docker, 10_000);
      await pingEngine(dockerClientFor(e.socketUrl), 10_000);
      const net = await e.docker.getNetwork("bridge").inspect();
      expect(net.Options?.["com.docker.network.bridge.name"]).toBe(e.bridge);
      expect(net.IPAM?.Config?.[0]?.Subnet).toBe(e.subnet);
    }
    expect(a.subnet).not.toBe(b.subnet);
    // The image went where it was asked for, and only there.
    expect((await a.docker.listImages()).some((i) => i.RepoTags?.includes(BUSYBOX_IMAGE))).toBe(true);
    expect((await b.docker.listImages()).some((i) => i.RepoTags?.includes(BUSYBOX_IMAGE))).toBe(false);
  });

  it("serves a runtime from a container on an engine reached over tcp", async () => {
    const a = fleet?.engine("a");
    if (!a) throw new Error("fleet missing");
    const onA = new DockerDeployment(
      {
        image: BUSYBOX_IMAGE,
        pull: "never",
        runtime_mount: await testBundle(),
        labels: label.labels,
        startup_timeout: 120,
      },
      { docker: a.docker, onProgress: () => {} },
    );
    await onA.start();
    try {
      const out = await onA.runtime.execute({ command: "echo fleet-ok", shell: true });
      expect(out.stdout.trim()).toBe("fleet-ok");
      // It runs on engine a, not on the shared engine.
      const id = onA.containerId ?? "";
      expect((await a.docker.getContainer(id).inspect()).State.Running).toBe(true);
      await expect(sharedEngine.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await onA.stop();
    }
  }, 120_000);

  it("stops one engine and starts it again with its containers still recorded (stopped)", async () => {
    const a = fleet?.engine("a");
    const b = fleet?.engine("b");
    if (!a || !b || !fleet) throw new Error("fleet missing");
    const c = await a.docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: ["sleep", "600"],
      Labels: label.labels,
    });
    await c.start();
    const ups: string[] = [];
    const health = new FleetHealth({
      hosts: ["a", "b"],
      ping: (name, ms) => pingEngine(fleet?.engine(name).docker ?? a.docker, ms),
      onUp: (name) => {
        ups.push(name);
      },
    });
    const pid = a.pid ?? 0;
    await fleet.stopEngine("a");
    expect(processAlive(pid)).toBe(false);
    await health.check();
    expect([health.isUp("a"), health.isUp("b")]).toEqual([false, true]); // the other engine is untouched
    await fleet.startEngine("a");
    await health.check();
    expect([health.isUp("a"), ups]).toEqual([true, ["a"]]);
    const info = await a.docker.getContainer(c.id).inspect();
    expect(info.State.Running).toBe(false);
    await a.docker.getContainer(c.id).remove({ force: true });
  }, 180_000);

  it("destroy leaves no process, bridge or directory, and the shared engine keeps docker0", async () => {
    if (!fleet) throw new Error("fleet missing");
    const engines = [...fleet.engines];
    const pids = engines.map((e) => e.pid ?? 0);
    await fleet.destroy();
    for (const p of pids) expect(processAlive(p)).toBe(false);
    const links = execFileSync("/usr/sbin/ip", ["-o", "link"], { encoding: "utf8" });
    for (const e of engines) {
      expect(links).not.toContain(`${e.bridge}:`);
      expect(existsSync(e.dir)).toBe(false);
    }
    expect(links).toContain("docker0:");
    await pingEngine(sharedEngine, 10_000);
  }, 120_000);
});
