/**
 * A real `swerex serve` on real PostgreSQL placing Docker sandboxes over two extra dockerd engines started
 * by the test (own loopback address, socket, dirs and bridge each): a warm pool handing out and refilling,
 * a dead pooled sandbox replaced, placement preferring the host with the image, an engine that stops
 * (new sandboxes elsewhere, its sandboxes `lost`) and comes back (its orphans removed), and a full fleet
 * overflowing to another backend under the same API. Nothing is left on either engine after.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_SANDBOX } from "../../src/deployment/index.js";
import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/types.js";
import { containersWithLabel, removeContainersWithLabel } from "../docker/fixtures.js";
import { BUSYBOX_IMAGE } from "../docker/images.js";
import { type DockerdFleet, fleetUnavailable, startDockerdFleet } from "../helpers/dockerd-fleet.js";
import type { TempDatabase } from "../store/fixtures.js";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import {
  api,
  busyboxDockerArgs,
  newDataDir,
  type ServeProcess,
  startServe,
  testServiceId,
  until,
} from "./serve.js";

const KEY = "scale-key-aaaaaaaaaaaaaaaa";
/** A tag only engine `a` has: placement must send it there even when `a` is the busier host. */
const ONLY_ON_A = "swerex-test/only-on-a:1";
const skip = fleetUnavailable();
if (skip) console.warn(`skipping fleet service tests: ${skip}`);

const describeFleet = skip ? (describe.skip as typeof describe) : describePostgres;

describeFleet("swerex serve over a fleet of Docker hosts (PostgreSQL)", () => {
  let fleet: DockerdFleet | undefined;
  let db: TempDatabase | undefined;
  let store: Store | undefined;
  let data: Awaited<ReturnType<typeof newDataDir>> | undefined;
  let serve: ServeProcess | undefined;
  const serviceId = testServiceId();
  const call = (method: string, path: string, body?: unknown) =>
    api(serve?.url ?? "", method, path, { key: KEY, ...(body !== undefined ? { body } : {}) });
  const exec = async (id: string, command: string) =>
    (await call("POST", `/v1/sandboxes/${id}/runtime/execute`, { command, shell: true, timeout: 30 })).body;
  const containersOn = async (name: string) =>
    fleet ? await containersWithLabel(`swerex.service=${serviceId}`, fleet.engine(name).docker) : [];
  const poolStatus = async () => (await call("GET", "/v1/pools")).body.items[0];

  beforeAll(async () => {
    fleet = await startDockerdFleet({ names: ["a", "b"] });
    const a = fleet.engine("a");
    await a.docker.getImage(BUSYBOX_IMAGE).tag({ repo: "swerex-test/only-on-a", tag: "1" });
    db = await tempPostgresDatabase();
    store = await createStore(db.url);
    data = await newDataDir();
    const config = {
      docker_hosts: fleet.engines.map((e) => ({ name: e.name, docker_host: e.dockerHost, max_sandboxes: 3 })),
      pools: [{ name: "bb", size: 2 }],
      overflow: { type: "local" },
      host_lost_after: 2,
    };
    const file = join(data.dir, "serve.json");
    await writeFile(file, JSON.stringify(config));
    serve = await startServe({
      dataDir: data.dir,
      keys: [KEY],
      serviceId,
      args: ["--config", file, "--database", db.url, ...(await busyboxDockerArgs())],
    });
  }, 300_000);

  afterAll(async () => {
    // Stop everything through the API first, so the engines are empty before they go.
    if (serve && store) {
      const page = await store.listSandboxes({
        states: ["queued", "starting", "running", "paused", "stopping"],
        limit: 500,
      });
      await Promise.allSettled(
        page.items.map((r) => api(serve?.url ?? "", "DELETE", `/v1/sandboxes/${r.id}`, { key: KEY })),
      );
    }
    await serve?.stop();
    // Pool sandboxes belong to the pool owner (not KEY): stop whatever is left on the engines directly.
    for (const e of fleet?.engines ?? [])
      await removeContainersWithLabel(`swerex.service=${serviceId}`, e.docker);
    await store?.close();
    await db?.drop();
    await data?.remove();
    await fleet?.destroy();
  }, 180_000);

  it("keeps a warm pool ready, hands one out at once and refills", async () => {
    const ready = await until(
      "pool bb ready",
      async () => ((await poolStatus()).ready === 2 ? true : undefined),
      180_000,
    );
    expect(ready).toBe(true);
    const res = await call("POST", "/v1/sandboxes", { pool: "bb", metadata: { step: "1" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: "running", pool: "bb", metadata: { step: "1" } });
    expect(res.body.expires_at).not.toBeNull();
    expect((await exec(res.body.id, "echo pooled")).stdout).toBe("pooled\n");
    // Refilled in the background: two ready again, one handed out.
    let last: unknown;
    await until(
      "refill",
      async () => {
        const s = await poolStatus();
        last = s;
        return s.ready === 2 && s.handed_out === 1 ? s : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      const log = serve
        ?.output()
        .split("\n")
        .filter((l) => /pool|dut|warn|error/i.test(l))
        .slice(-40)
        .join("\n");
      throw new Error(`${err.message}; pool ${JSON.stringify(last)}\n${log}`);
    });
    expect(await poolStatus()).toEqual({
      name: "bb",
      size: 2,
      max: null,
      ready: 2,
      starting: 0,
      handed_out: 1,
    });
    // A handed-out sandbox is an ordinary one: DELETE stops it.
    expect((await call("DELETE", `/v1/sandboxes/${res.body.id}`)).body.state).toBe("stopped");
    const metrics = (await api(serve?.url ?? "", "GET", "/metrics")).text;
    expect(metrics).toMatch(/swerex_pool_sandboxes\{pool="bb",state="ready"\} 2/);
  }, 300_000);

  it("replaces a dead pooled sandbox instead of handing it out", async () => {
    const ready = await store?.listSandboxes({ owner: "pool:bb", states: ["running"] });
    const victim = ready?.items[0];
    if (!victim?.host) throw new Error("no ready pooled sandbox");
    const [container] =
      (await fleet?.engine(victim.host).docker.listContainers({
        filters: { label: [`${LABEL_SANDBOX}=${victim.id}`] },
      })) ?? [];
    if (!container) throw new Error("no container for the pooled sandbox");
    await fleet?.engine(victim.host).docker.getContainer(container.Id).kill();
    const got = [
      (await call("POST", "/v1/sandboxes", { pool: "bb" })).body,
      (await call("POST", "/v1/sandboxes", { pool: "bb" })).body,
    ];
    expect(got.map((s) => s.id)).not.toContain(victim.id);
    for (const s of got) expect((await exec(s.id, "echo alive")).stdout).toBe("alive\n");
    await until("dead one stopped", async () => {
      const rec = await store?.getSandbox(victim.id);
      return rec?.state === "stopped" ? rec : undefined;
    });
    for (const s of got) await call("DELETE", `/v1/sandboxes/${s.id}`);
    await until("pool refilled", async () => ((await poolStatus()).ready === 2 ? true : undefined), 180_000);
  }, 300_000);

  it("places on the host that has the image, even when it is the busier one", async () => {
    // The pool's sandboxes spread over a and b; only a has ONLY_ON_A.
    const res = await call("POST", "/v1/sandboxes", { deployment: { image: ONLY_ON_A } });
    expect(res.status).toBe(201);
    expect(res.body.host).toBe("a");
    expect((await exec(res.body.id, "echo on-a")).stdout).toBe("on-a\n");
    await call("DELETE", `/v1/sandboxes/${res.body.id}`);
  }, 180_000);

  it("stops placing on an engine that went away, marks its sandboxes lost, and removes its orphans when it is back", async () => {
    if (!fleet || !store) throw new Error("no fleet");
    // Least loaded first: a few creates put at least one sandbox on b.
    const mine: string[] = [];
    while ((await store.countSandboxes({ host: "b", states: ["running"] })) === 0 && mine.length < 6) {
      const res = await call("POST", "/v1/sandboxes", {});
      expect(res.status).toBe(201);
      mine.push(res.body.id);
    }
    const onB = await store.listSandboxes({ host: "b", states: ["running"] });
    expect(onB.items.length).toBeGreaterThan(0);
    await fleet.stopEngine("b");
    // host_lost_after is 2 s: the fleet duty marks b's sandboxes lost.
    for (const rec of onB.items) {
      const lost = await until(`${rec.id} lost`, async () => {
        const r = await store?.getSandbox(rec.id);
        return r?.state === "lost" ? r : undefined;
      });
      expect(lost.error).toMatchObject({ class: "HostLost" });
    }
    const placed = await call("POST", "/v1/sandboxes", {});
    expect(placed.status).toBe(201);
    expect(placed.body.host).toBe("a");
    await fleet.startEngine("b");
    // The restarted engine still has the (stopped) containers of the lost sandboxes: removed as orphans.
    await until(
      "b's orphans removed",
      async () => ((await containersOn("b")).length === 0 ? true : undefined),
      90_000,
    );
    for (const id of [...mine, placed.body.id]) await call("DELETE", `/v1/sandboxes/${id}`);
  }, 300_000);

  it("overflows to the overflow deployment when every host is full, under the same API", async () => {
    if (!store) throw new Error("no store");
    const loads = async () =>
      Promise.all(
        ["a", "b"].map((h) =>
          store?.countSandboxes({ host: h, states: ["starting", "running", "paused", "stopping"] }),
        ),
      );
    // Fill both hosts (max 3 each) with ordinary sandboxes.
    const created: string[] = [];
    for (;;) {
      const [a = 0, b = 0] = await loads();
      if (a >= 3 && b >= 3) break;
      const res = await call("POST", "/v1/sandboxes", {});
      expect(res.status).toBe(201);
      expect(res.body.host).not.toBeNull();
      created.push(res.body.id);
    }
    const over = await call("POST", "/v1/sandboxes", {});
    expect(over.status).toBe(201);
    expect(over.body).toMatchObject({ state: "running", host: null, deployment: { type: "local" } });
    expect(over.body.id).toMatch(/^sbx-/);
    expect((await exec(over.body.id, "echo overflow")).stdout).toBe("overflow\n");
    for (const id of [...created, over.body.id]) await call("DELETE", `/v1/sandboxes/${id}`);
  }, 600_000);
});
