/**
 * SIGTERM of a real `swerex serve`: requests in flight finish, sandboxes keep running (a restart adopts
 * them), and `--stop_on_exit` stops them instead. Local backend: the in-flight request is a real command.
 */
import { afterEach, describe, expect, it } from "vitest";
import { api, newDataDir, type ServeProcess, startServe, testServiceId, until } from "./serve.js";

const KEY = "shutdown-key-0123456789";

describe("swerex serve on SIGTERM", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function serveIn(dir: string, serviceId: string, args: string[]): Promise<ServeProcess> {
    const s = await startServe({ dataDir: dir, keys: [KEY], serviceId, args });
    cleanups.push(() => s.stop("SIGKILL"));
    return s;
  }

  it("finishes a request in flight; a local sandbox ends with the service and is lost after the restart", async () => {
    const data = await newDataDir();
    cleanups.push(data.remove);
    const serviceId = testServiceId();
    const serve = await serveIn(data.dir, serviceId, ["--instances.deployment.type=local"]);
    const { body: sbx } = await api(serve.url, "POST", "/v1/sandboxes", { key: KEY });
    expect(sbx.state).toBe("running");
    const marker = `${data.dir}/started`;
    const slow = api(serve.url, "POST", `/v1/sandboxes/${sbx.id}/runtime/execute`, {
      key: KEY,
      body: { command: `touch ${marker}; sleep 2; echo finished`, shell: true, timeout: 60 },
    });
    const { existsSync } = await import("node:fs");
    await until("the command to start", async () => (existsSync(marker) ? true : undefined));
    const exit = serve.stop("SIGTERM");
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.body.stdout).toBe("finished\n");
    expect(await exit).toBe(143);
    // A local sandbox is a child of the service: it ends with it, and the next start finds it lost.
    const again = await serveIn(data.dir, serviceId, ["--instances.deployment.type=local"]);
    const after = await api(again.url, "GET", `/v1/sandboxes/${sbx.id}`, { key: KEY });
    expect(after.body.state).toBe("lost");
    expect(after.body.error.class).toBe("SandboxLost");
  }, 180_000);

  it("leaves sandboxes running by default; --stop_on_exit stops them", async () => {
    const data = await newDataDir();
    cleanups.push(data.remove);
    const serviceId = testServiceId();
    const args = ["--instances.deployment.type=dummy"];
    const first = await serveIn(data.dir, serviceId, args);
    const a = (await api(first.url, "POST", "/v1/sandboxes", { key: KEY })).body.id;
    expect(await first.stop("SIGTERM")).toBe(143);

    const second = await serveIn(data.dir, serviceId, [...args, "--stop_on_exit"]);
    expect((await api(second.url, "GET", `/v1/sandboxes/${a}`, { key: KEY })).body.state).toBe("running");
    const b = (await api(second.url, "POST", "/v1/sandboxes", { key: KEY })).body.id;
    expect(await second.stop("SIGTERM")).toBe(143);
    expect(second.output()).toContain("stopped every sandbox (--stop_on_exit)");

    const third = await serveIn(data.dir, serviceId, args);
    for (const id of [a, b]) {
      const s = await api(third.url, "GET", `/v1/sandboxes/${id}`, { key: KEY });
      expect(s.body.state).toBe("stopped");
    }
  }, 180_000);
});
