/**
 * `swerex serve` with Docker sandboxes on a real engine: idempotent creates under concurrent retries make
 * one container; secrets never show; a SIGKILLed service with several running sandboxes is restarted and
 * lists every record, the running ones usable through the pass-through again; an orphan container with this
 * service's label is removed at start-up; `swerex reap` leaves service-owned containers alone; after DELETE
 * of everything no container of this service is left. Only containers with this file's service id count.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { reapContainers } from "../../src/deployment/docker/reap.js";
import { LABEL_SANDBOX, LABEL_SERVICE } from "../../src/deployment/index.js";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  docker,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import { api, newDataDir, type ServeProcess, startServe, testServiceId, until } from "./serve.js";

const KEY = "docker-test-key-abcdefabcdef";
const SECRET = "ghp_this-is-a-secret-value-42";

describeDocker("swerex serve with Docker sandboxes", () => {
  const serviceId = testServiceId();
  const serviceFilter = `${LABEL_SERVICE}=${serviceId}`;
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess | undefined;
  let args: string[];
  const url = () => (serve as ServeProcess).url;
  const start = async () => {
    serve = await startServe({ dataDir: data.dir, keys: [KEY], serviceId, args });
    return serve;
  };
  const running = async () =>
    (await containersWithLabel(serviceFilter)).filter((c) => c.State === "running").length;

  beforeAll(async () => {
    data = await newDataDir();
    const [image, bundle] = await Promise.all([busyboxImage(), testBundle()]);
    args = [
      "--instances.deployment.type=docker",
      `--instances.deployment.image=${image}`,
      "--instances.deployment.pull=never",
      `--instances.deployment.runtime_mount=${bundle}`,
      "--instances.deployment.memory_limit=256m",
    ];
    await start();
  }, 600_000);

  afterAll(async () => {
    await serve?.stop("SIGKILL");
    await removeContainersWithLabel(serviceFilter);
    await data?.remove();
  });

  it("starts one container for concurrent creates with one Idempotency-Key; secrets stay out of answers", async () => {
    const body = { deployment: { env: { GITHUB_TOKEN: SECRET, PLAIN: "visible" } }, metadata: { t: "idem" } };
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        api(url(), "POST", "/v1/sandboxes", {
          key: KEY,
          body,
          headers: { "idempotency-key": "docker-idem" },
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const sbx = answers[0]?.body;
    const containers = await containersWithLabel(`${LABEL_SANDBOX}=${sbx.id}`);
    expect(containers).toHaveLength(1);
    expect(containers[0]?.Labels[LABEL_SERVICE]).toBe(serviceId);
    expect(sbx.deployment.env).toEqual({ PLAIN: "visible" });
    expect(sbx.deployment.image).toBe(args[1]?.split("=")[1]);
    for (const a of answers) expect(a.text).not.toContain(SECRET);
    // The container does have it: the secret was only kept out of what the API shows.
    const rt = new RemoteRuntime({ host: sbx.runtime_url, auth_token: KEY, timeout: 10 });
    const env = await rt.execute({ command: "echo $GITHUB_TOKEN", shell: true, timeout: 30 });
    expect(env.stdout).toBe(`${SECRET}\n`);
    await rt.dispose();
  }, 300_000);

  it("survives a SIGKILL: records listed, running sandboxes adopted and usable, orphans removed", async () => {
    const created = await Promise.all(
      [1, 2, 3].map((i) =>
        api(url(), "POST", "/v1/sandboxes", { key: KEY, body: { metadata: { kill: String(i) } } }),
      ),
    );
    for (const c of created) expect(c.status).toBe(201);
    const ids = created.map((c) => c.body.id as string);
    // One of them vanishes while the service is down: it must come back as `lost`.
    const gone = ids[2] as string;
    const before = (await api(url(), "GET", "/v1/sandboxes?limit=1000", { key: KEY })).body.items;

    await serve?.stop("SIGKILL");
    // `swerex reap` (owner pid gone) must not touch a service's containers.
    const reaped = await reapContainers({ dryRun: true, labels: [serviceFilter] });
    expect(reaped).toEqual([]);
    const [goneContainer] = await containersWithLabel(`${LABEL_SANDBOX}=${gone}`);
    await docker.getContainer(goneContainer?.Id as string).remove({ force: true });
    // An orphan: labelled with this service, but no record (e.g. created just before a crash).
    const orphan = await docker.createContainer({
      Image: args[1]?.split("=")[1] as string,
      Cmd: ["sleep", "600"],
      Labels: {
        [LABEL_SERVICE]: serviceId,
        [LABEL_SANDBOX]: "sbx-orphanorphanorphano",
        "swerex.managed": "true",
      },
    });
    await orphan.start();

    await start();
    const after = (await api(url(), "GET", "/v1/sandboxes?limit=1000", { key: KEY })).body.items;
    expect(after.map((s: { id: string }) => s.id)).toEqual(before.map((s: { id: string }) => s.id));
    const lost = after.find((s: { id: string }) => s.id === gone);
    expect(lost.state).toBe("lost");
    expect(lost.error.class).toBe("SandboxLost");
    for (const id of ids.slice(0, 2)) {
      const s = after.find((x: { id: string }) => x.id === id);
      expect(s.state).toBe("running");
      const rt = new RemoteRuntime({ host: s.runtime_url, auth_token: KEY, timeout: 10 });
      const r = await rt.execute({ command: `echo adopted-${id}`, shell: true, timeout: 30 });
      expect(r.stdout).toBe(`adopted-${id}\n`);
      await rt.dispose();
    }
    await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 600_000);

  it("leaves no container of this service after DELETE of everything", async () => {
    const live = (
      await api(url(), "GET", "/v1/sandboxes?state=running,starting,paused&limit=1000", { key: KEY })
    ).body.items;
    expect(live.length).toBeGreaterThan(0);
    expect(await running()).toBe(live.length);
    const deleted = await Promise.all(
      live.map((s: { id: string }) => api(url(), "DELETE", `/v1/sandboxes/${s.id}`, { key: KEY })),
    );
    for (const d of deleted) expect(d.body.state).toBe("stopped");
    await until("the containers to go", async () =>
      (await containersWithLabel(serviceFilter)).length === 0 ? true : undefined,
    );
    expect(serve?.output()).not.toContain(SECRET);
    expect(serve?.output()).not.toContain(KEY);
  }, 300_000);
});
