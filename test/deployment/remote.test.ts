import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RemoteDeployment } from "../../src/deployment/index.js";
import { DeploymentNotStartedError } from "../../src/runtime/errors.js";
import { type RunningRuntimeServer, startRuntimeServer } from "../../src/server/index.js";

let server: RunningRuntimeServer;
beforeAll(async () => {
  server = await startRuntimeServer({ authToken: "testkey" });
});
afterAll(async () => {
  await server?.close();
});

describe("RemoteDeployment against a real runtime server", () => {
  let d: RemoteDeployment | undefined;
  afterEach(async () => {
    await d?.stop().catch(() => undefined);
  });

  it("throws DeploymentNotStartedError before start; alive after; runs commands; stop (upstream test_remote_deployment)", async () => {
    d = new RemoteDeployment({
      auth_token: "testkey",
      host: "http://127.0.0.1",
      port: server.port,
      timeout: 5,
    });
    await expect(d.isAlive()).rejects.toBeInstanceOf(DeploymentNotStartedError);

    const steps: string[] = [];
    d.on("status", (s) => steps.push(s));
    await d.start();
    expect(steps).toEqual(["Starting runtime"]);
    expect((await d.isAlive({ timeoutMs: 5000 })).is_alive).toBe(true);

    await d.runtime.createSession({ session: "r", startup_timeout: 60 });
    const obs = await d.runtime.runInSession({ session: "r", command: "echo remote", timeout: 30 });
    expect(obs.output).toBe("remote\n");

    await d.stop();
    await expect(d.isAlive()).rejects.toBeInstanceOf(DeploymentNotStartedError);
    await d.stop();
  });

  it("stop closes the server's sessions (POST /close)", async () => {
    d = new RemoteDeployment({ auth_token: "testkey", port: server.port, timeout: 5 });
    await d.start();
    await d.runtime.createSession({ session: "gone", startup_timeout: 60 });
    await d.stop();
    d = new RemoteDeployment({ auth_token: "testkey", port: server.port, timeout: 5 });
    await d.start();
    // The session name is free again because /close closed every session.
    await d.runtime.createSession({ session: "gone", startup_timeout: 60 });
  });

  it("reports not alive (without throwing) for a wrong token", async () => {
    d = new RemoteDeployment({ auth_token: "wrong", port: server.port, timeout: 5 });
    await d.start();
    expect((await d.isAlive({ timeoutMs: 5000 })).is_alive).toBe(false);
  });
});
