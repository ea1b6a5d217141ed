/**
 * Admission and replicas against real `swerex serve` processes on real PostgreSQL (dummy backend, so the
 * queue and the duties are what is measured, not container starts):
 * - creates without room wait in FIFO order (`queued`, `queue_position`), leave at `queue_timeout` as
 *   `failed`/`QueueTimeout`, and only a full queue answers 429;
 * - a batch gets its whole group or nothing;
 * - two replicas on one store: an Idempotency-Key retried on both makes one sandbox; the duty holder
 *   SIGKILLed while a pool start of its own is in flight (a docker pool, real engine), the other takes its
 *   duties over within 10 s and they run again: the abandoned start is swept (`StarterLost`, its container
 *   removed), the pools refill to `size` with nothing left `starting`, the reaper reaps.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { LABEL_SANDBOX, LABEL_SERVICE } from "../../src/deployment/index.js";
import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/types.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import type { TempDatabase } from "../store/fixtures.js";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import { api, startServeWithConfig, testServiceId, until } from "./serve.js";

const KEY = "replica-key-aaaaaaaaaaaaaaaa";

function serveWith(config: unknown, dbUrl: string, serviceId: string, extra: string[] = []) {
  return startServeWithConfig(config, {
    keys: [KEY],
    serviceId,
    args: ["--database", dbUrl, "--instances.deployment.type=dummy", ...extra],
  });
}

describePostgres("admission queue and batches (swerex serve, PostgreSQL)", () => {
  let db: TempDatabase | undefined;
  let one: Awaited<ReturnType<typeof serveWith>> | undefined;
  const call = (method: string, path: string, body?: unknown) =>
    api(one?.url ?? "", method, path, { key: KEY, ...(body !== undefined ? { body } : {}) });

  beforeAll(async () => {
    db = await tempPostgresDatabase();
    one = await serveWith({ admission: { queue_timeout: 4, max_queue: 2 } }, db.url, testServiceId(), [
      "--max_sandboxes",
      "2",
    ]);
  }, 120_000);
  afterAll(async () => {
    await one?.remove();
    await db?.drop();
  }, 60_000);

  it("queues in FIFO order with positions, times out queued creates, and answers 429 only when the queue is full", async () => {
    const running = [(await call("POST", "/v1/sandboxes")).body, (await call("POST", "/v1/sandboxes")).body];
    expect(running.map((s) => s.state)).toEqual(["running", "running"]);
    const first = await call("POST", "/v1/sandboxes", { wait: false, metadata: { n: "1" } });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ state: "queued", queue_position: 1 });
    const second = await call("POST", "/v1/sandboxes", { wait: false, metadata: { n: "2" } });
    expect(second.body).toMatchObject({ state: "queued", queue_position: 2 });
    const full = await call("POST", "/v1/sandboxes", { wait: false });
    expect(full.status).toBe(429);
    expect(full.headers.get("retry-after")).toBe("5");
    expect(full.body.error.message).toBe("the admission queue is full (2 waiting)");

    // Room for one: the first in line gets it, the second moves up.
    await call("DELETE", `/v1/sandboxes/${running[0].id}`);
    await until("first queued create running", async () => {
      const r = await call("GET", `/v1/sandboxes/${first.body.id}`);
      return r.body.state === "running" ? r : undefined;
    });
    const waiting = await call("GET", `/v1/sandboxes/${second.body.id}`);
    expect(waiting.body).toMatchObject({ state: "queued", queue_position: 1 });
    // No more room: the second leaves at queue_timeout (4 s) as failed.
    const timedOut = await until("second queued create timed out", async () => {
      const r = await call("GET", `/v1/sandboxes/${second.body.id}`);
      return r.body.state === "failed" ? r.body : undefined;
    });
    expect(timedOut.error.class).toBe("QueueTimeout");
    expect(timedOut.queue_position).toBeUndefined();
    for (const id of [running[1].id, first.body.id]) await call("DELETE", `/v1/sandboxes/${id}`);
  }, 120_000);

  it("a batch gets the whole group or nothing", async () => {
    const live = async () =>
      (await call("GET", "/v1/sandboxes?state=queued,starting,running")).body.items.length as number;
    expect(await live()).toBe(0);
    const tooBig = await call("POST", "/v1/sandboxes/batch", { count: 3, timeout: 1 });
    expect(tooBig.status).toBe(503);
    expect(tooBig.body.error.message).toMatch(/^no room for a group of 3 before the deadline/);
    expect(await live()).toBe(0);
    const group = await call("POST", "/v1/sandboxes/batch", { count: 2, metadata: { group: "g1" } });
    expect(group.status).toBe(201);
    expect(group.body.items.map((s: { state: string }) => s.state)).toEqual(["running", "running"]);
    expect(await live()).toBe(2);
    const bad = await call("POST", "/v1/sandboxes/batch", { count: 0 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.issues[0].field).toBe("count");
    for (const s of group.body.items) await call("DELETE", `/v1/sandboxes/${s.id}`);
  }, 120_000);
});

describePostgres("two replicas on one PostgreSQL (swerex serve)", () => {
  describeDocker("two replicas with a docker pool", () => {
    let db: TempDatabase | undefined;
    let store: Store | undefined;
    const replicas: Awaited<ReturnType<typeof serveWith>>[] = [];
    const serviceId = testServiceId();
    const callOn = (
      i: number,
      method: string,
      path: string,
      body?: unknown,
      headers?: Record<string, string>,
    ) =>
      api(replicas[i]?.url ?? "", method, path, {
        key: KEY,
        ...(body !== undefined ? { body } : {}),
        ...(headers ? { headers } : {}),
      });

    beforeAll(async () => {
      db = await tempPostgresDatabase();
      store = await createStore(db.url);
      const [image, bundle] = await Promise.all([busyboxImage(), testBundle()]);
      // "d" starts real containers: a start takes long enough to be caught in flight by the kill below.
      const docker = { type: "docker", image, pull: "never", runtime_mount: bundle, memory_limit: "256m" };
      const config = {
        pools: [
          { name: "p", size: 2 },
          { name: "d", size: 1, deployment: docker },
        ],
      };
      replicas.push(await serveWith(config, db.url, serviceId));
      replicas.push(await serveWith(config, db.url, serviceId));
    }, 300_000);
    afterAll(async () => {
      await Promise.allSettled(replicas.map((r) => r.remove()));
      await removeContainersWithLabel(`${LABEL_SERVICE}=${serviceId}`);
      await store?.close();
      await db?.drop();
    }, 60_000);

    it("an Idempotency-Key retried on both replicas at once makes one sandbox", async () => {
      const headers = { "idempotency-key": "step-7-sample-3" };
      const answers = await Promise.all(
        [0, 1, 0, 1, 0, 1].map((i) =>
          callOn(i, "POST", "/v1/sandboxes", { metadata: { k: "idem" } }, headers),
        ),
      );
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.every((a) => a.status === 201)).toBe(true);
      expect(await store?.countSandboxes({ metadata: { k: "idem" } })).toBe(1);
      // Pools too: a hand-out retried on the other replica returns the same sandbox.
      const poolHeaders = { "idempotency-key": "pool-take-1" };
      await until("pool ready", async () =>
        (await callOn(0, "GET", "/v1/pools")).body.items[0].ready === 2 ? true : undefined,
      );
      const taken = await Promise.all(
        [0, 1].map((i) => callOn(i, "POST", "/v1/sandboxes", { pool: "p" }, poolHeaders)),
      );
      expect(taken[0]?.body.id).toBe(taken[1]?.body.id);
      const handedOut = (await store?.listSandboxes({ pool: "p", states: ["running"] }))?.items.filter(
        (r) => r.owner !== "pool:p",
      );
      expect(handedOut?.map((r) => r.id)).toEqual([taken[0]?.body.id]);
      await callOn(0, "DELETE", `/v1/sandboxes/${taken[0]?.body.id}`);

      // The loser of that race gives its claimed sandbox back to the pool, possibly after the refill has
      // replaced it: a pool above its size must shrink back. The give-back is done here exactly as the
      // loser does it, once the refill is complete, so the pool is deterministically one over.
      const poolP = async () => (await callOn(0, "GET", "/v1/pools")).body.items[0];
      const settled = async () => {
        const p = await poolP();
        return p.ready === 2 && p.starting === 0 ? p : undefined;
      };
      await until("pool p refilled", settled, 60_000);
      const extra = await callOn(0, "POST", "/v1/sandboxes", { pool: "p" });
      await until("pool p refilled after a hand-out", settled, 60_000);
      const rec = await store?.getSandbox(extra.body.id);
      const given = await store?.updateSandbox(
        extra.body.id,
        { owner: "pool:p", expires_at: null, metadata: {} },
        rec?.version,
      );
      expect(given?.owner).toBe("pool:p");
      await until(
        "pool p shrunk back to its size",
        async () => {
          const pool = await store?.listSandboxes({ owner: "pool:p", states: ["running"] });
          return pool?.items.length === 2 ? pool : undefined;
        },
        30_000,
      );
      expect(await settled()).toMatchObject({ ready: 2, starting: 0 });
    }, 120_000);

    it("when the duty holder is SIGKILLed mid-refill the other replica takes over within 10 s, sweeps its start, refills and reaps", async () => {
      if (!store) throw new Error("no store");
      const s = store;
      const holderPid = (lease: { holder: string } | undefined) => Number(lease?.holder.split("/").pop());
      const pools = async (i: number) =>
        Object.fromEntries(
          (await callOn(i, "GET", "/v1/pools")).body.items.map((p: { name: string }) => [p.name, p]),
        );
      await until(
        "both pools ready",
        async () => {
          const p = await pools(0);
          // "p" may hold one more than its size: the hand-out race above gives its loser's claim back after
          // the refill replaced it (there is no shrinking); "d" is the pool this test kills a start of.
          return p.p.ready >= 2 && p.d.ready === 1 ? true : undefined;
        },
        120_000,
      );
      const leader = await until("a pools duty holder", async () => {
        const lease = await s.getDuty("pools");
        return lease && lease.expires_at > Date.now() ? lease : undefined;
      });
      const leaderIndex = replicas.findIndex((r) => r.pid === holderPid(leader));
      expect(leaderIndex).toBeGreaterThanOrEqual(0);
      const survivor = 1 - leaderIndex;
      // A hand-out on the leader makes it refill "d" at once: a container start of its own, in flight.
      const taken = await callOn(leaderIndex, "POST", "/v1/sandboxes", { pool: "d" });
      expect(taken.status).toBe(201);
      const inFlight = await until(
        "the leader's refill start",
        async () => (await s.listSandboxes({ owner: "pool:d", states: ["starting"] })).items[0],
        30_000,
      );
      expect(inFlight.starter?.startsWith(`${leader.holder}/`)).toBe(true);
      await replicas[leaderIndex]?.stop("SIGKILL");
      // Killed mid-start: nobody alive runs this start any more.
      expect((await s.getSandbox(inFlight.id))?.state).toBe("starting");
      for (const duty of ["pools", "reaper", "starts"]) {
        await until(
          `${duty} taken over`,
          async () => {
            const lease = await s.getDuty(duty);
            return holderPid(lease) === replicas[survivor]?.pid ? lease : undefined;
          },
          10_000,
        );
      }
      // The abandoned start is swept once the dead replica's liveness lease lapses (6 s), not left `starting`.
      const swept = await until(
        "the abandoned start swept",
        async () => {
          const rec = await s.getSandbox(inFlight.id);
          return rec?.state !== "starting" ? rec : undefined;
        },
        15_000,
      );
      expect(swept).toMatchObject({ state: "failed", error: { class: "StarterLost" } });
      // The pools refill by themselves, and the swept start's container (if the engine made it) is removed.
      await until(
        "pools refilled by the survivor",
        async () => {
          const p = await pools(survivor);
          return p.p.ready >= 2 && p.p.starting === 0 && p.d.ready === 1 && p.d.starting === 0
            ? p
            : undefined;
        },
        90_000,
      );
      await until("no container of the swept start", async () =>
        (await containersWithLabel(`${LABEL_SANDBOX}=${inFlight.id}`)).length === 0 ? true : undefined,
      );
      // The reaper runs: an expired lease is reaped by the survivor alone.
      const short = await callOn(survivor, "POST", "/v1/sandboxes", { ttl: 1 });
      await until("reaped by the survivor", async () => {
        const r = await callOn(survivor, "GET", `/v1/sandboxes/${short.body.id}`);
        return r.body.state === "stopped" ? r : undefined;
      });
      expect((await callOn(survivor, "DELETE", `/v1/sandboxes/${taken.body.id}`)).body.state).toBe("stopped");
    }, 300_000);
  });
});
