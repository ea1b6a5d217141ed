/**
 * The controlplane deployment against a real `swerex serve` process over real HTTP: local and dummy
 * backends, docker with the busybox image; lease renewal keeping a short-ttl sandbox alive while an
 * unrenewed one is reaped; the service's refusals reaching the caller with their status and message.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ControlPlaneApiError,
  ControlPlaneClient,
  ControlPlaneDeployment,
  type ControlPlaneDeploymentConfigInput,
} from "../../src/deployment/index.js";
import { until } from "../controlplane/serve.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import { type RunningServe, startServe } from "./serve.js";

let serve: RunningServe;
let client: ControlPlaneClient;
const started: ControlPlaneDeployment[] = [];

beforeAll(async () => {
  serve = await startServe({ args: ["--instances.deployment.type=local"] });
  client = new ControlPlaneClient({ url: serve.url, apiKey: serve.apiKey });
}, 90_000);

afterAll(async () => {
  await Promise.allSettled(started.map((d) => d.stop()));
  await serve?.stop();
});

function deployment(config: ControlPlaneDeploymentConfigInput = {}): ControlPlaneDeployment {
  const d = new ControlPlaneDeployment(
    { url: serve.url, api_key: serve.apiKey, startup_timeout: 120, ...config },
    {
      env: {},
    },
  );
  started.push(d);
  return d;
}

describe("ControlPlaneDeployment against swerex serve", () => {
  it("local backend: start creates a running sandbox, the runtime runs commands through the pass-through, stop deletes it", async () => {
    const d = deployment({ deployment: { type: "local" }, metadata: { test: "local" } });
    expect((await d.isAlive()).is_alive).toBe(false);
    await d.start();
    const id = d.sandboxId as string;
    expect(id).toMatch(/^sbx-[a-z2-7]{20}$/);
    const rec = await client.get(id);
    expect(rec).toMatchObject({
      id,
      state: "running",
      metadata: { test: "local" },
      deployment: { type: "local" },
    });
    expect(rec.runtime_url).toBe(`${serve.url}/v1/sandboxes/${id}/runtime`);
    expect((await d.isAlive({ timeoutMs: 10_000 })).is_alive).toBe(true);

    // (Bash sessions through the pass-through: see the docker test below.)
    const r = await d.runtime.execute({ command: ["sh", "-c", "printf x; exit 4"], timeout: 30 });
    expect(r).toMatchObject({ stdout: "x", exit_code: 4 });
    const path = `/tmp/swerex-cp-${randomUUID()}`;
    await d.runtime.writeFile({ path, content: "through the service" });
    expect((await d.runtime.readFile({ path })).content).toBe("through the service");
    await d.runtime.execute({ command: ["rm", "-f", path], timeout: 30 });

    await d.stop();
    expect((await client.get(id)).state).toBe("stopped");
    expect(d.sandbox?.state).toBe("stopped");
    // A second stop is a no-op; deleting again answers the stopped record again.
    await d.stop();
    expect((await client.delete(id)).state).toBe("stopped");
  });

  it("dummy backend: start and stop through the service", async () => {
    const d = deployment({ deployment: { type: "dummy" } });
    await d.start();
    const id = d.sandboxId as string;
    expect((await client.get(id)).deployment).toMatchObject({ type: "dummy" });
    await d.stop();
    expect((await client.get(id)).state).toBe("stopped");
  });

  it("an invalid backend config fails the start with the service's 422 naming the field", async () => {
    const d = deployment({ deployment: { type: "docker", pull: "sometimes" } });
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlPlaneApiError);
    expect((err as ControlPlaneApiError).status).toBe(422);
    expect((err as Error).message).toMatch(/pull/);
    expect((err as Error).message).toMatch(/never\|always\|missing/);
    expect(d.sandboxId).toBeUndefined();
  });

  it("a wrong API key is a 401 that does not echo the key", async () => {
    const wrong = `sk-wrong-${randomUUID()}`;
    const d = deployment({ api_key: wrong, deployment: { type: "dummy" } });
    const err = await d.start().catch((e: unknown) => e);
    expect((err as ControlPlaneApiError).status).toBe(401);
    expect(String((err as Error).message)).not.toContain(wrong);
    expect(serve.output()).not.toContain(wrong);
    expect(serve.output()).not.toContain(serve.apiKey);
  });

  it("lease renewal keeps a short-ttl sandbox alive past its ttl; without renewal the reaper stops it", async () => {
    const renewed = deployment({ deployment: { type: "dummy" }, ttl: 2, lease_renewal: 0.5 });
    const unrenewed = deployment({ deployment: { type: "dummy" }, ttl: 2, lease_renewal: 0 });
    await Promise.all([renewed.start(), unrenewed.start()]);
    const unrenewedId = unrenewed.sandboxId as string;
    // The service reaps within 5 s of expiry: the unrenewed one must go, and by then the renewed one has
    // outlived its 2 s ttl several times over.
    await until(`${unrenewedId} reaped`, async () =>
      (await client.get(unrenewedId)).state === "stopped" ? true : undefined,
    );
    const rec = await client.get(renewed.sandboxId as string);
    expect(rec.state).toBe("running");
    expect(Date.parse(rec.expires_at as string)).toBeGreaterThan(Date.now());
    await renewed.stop();
    await unrenewed.stop();
  });
});

describeDocker("ControlPlaneDeployment with a docker backend", () => {
  const label = fileLabel();
  afterAll(async () => {
    await removeContainersWithLabel(label.filter);
  });

  it("starts a busybox container through the service, runs a command in it, and removes it on stop", async () => {
    const [image, bundleDir] = await Promise.all([busyboxImage(), testBundle()]);
    const d = deployment({
      deployment: { type: "docker", image, pull: "never", runtime_mount: bundleDir, labels: label.labels },
    });
    await d.start();
    expect((await containersWithLabel(label.filter)).map((c) => c.State)).toEqual(["running"]);
    await d.runtime.createSession({ session: "b", startup_timeout: 60 });
    const obs = await d.runtime.runInSession({
      session: "b",
      command: "busybox | head -1 | cut -c1-7",
      timeout: 30,
    });
    expect(obs.output).toBe("BusyBox\n");
    await d.stop();
    expect(await containersWithLabel(label.filter)).toEqual([]);
  }, 180_000);
});
