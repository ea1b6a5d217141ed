import { afterEach, describe, expect, it } from "vitest";
import { LocalDeployment } from "../../src/deployment/index.js";
import { DeploymentNotStartedError } from "../../src/runtime/errors.js";
import { waitForProcessGone } from "../helpers/process.js";

describe("LocalDeployment", () => {
  let d: LocalDeployment | undefined;
  afterEach(async () => {
    await d?.stop();
  });

  it("is not alive before start, alive after, not alive after stop (upstream test_local_deployment)", async () => {
    d = new LocalDeployment();
    expect(await d.isAlive()).toEqual({ is_alive: false, message: "Runtime is None." });
    expect(() => d?.runtime).toThrow(DeploymentNotStartedError);

    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    expect(steps).toEqual(["Starting runtime"]);
    expect((await d.isAlive()).is_alive).toBe(true);

    await d.runtime.createSession({ session: "s", startup_timeout: 60 });
    const obs = await d.runtime.runInSession({ session: "s", command: "echo hello", timeout: 30 });
    expect(obs.output).toBe("hello\n");
    expect(obs.exit_code).toBe(0);

    await d.stop();
    expect(await d.isAlive()).toEqual({ is_alive: false, message: "Runtime is None." });
    expect(() => d?.runtime).toThrow(DeploymentNotStartedError);
    await d.stop();
  });

  it("closes its sessions' shells on stop", async () => {
    d = new LocalDeployment();
    await d.start();
    await d.runtime.createSession({ session: "s", startup_timeout: 60 });
    const pid = Number(
      (await d.runtime.runInSession({ session: "s", command: "echo $$", timeout: 30 })).output.trim(),
    );
    expect(pid).toBeGreaterThan(0);
    await d.stop();
    expect(await waitForProcessGone(pid, 20_000, 50)).toBe(true);
  });

  it("starts once when start is called twice", async () => {
    d = new LocalDeployment();
    await d.start();
    const r = d.runtime;
    await d.start();
    expect(d.runtime).toBe(r);
  });
});
