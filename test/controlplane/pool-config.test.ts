/**
 * Pools follow the config across a restart of a real `swerex serve` (SQLite registry, dummy backend): a pool
 * whose `size` went down shrinks to it, and the ready sandboxes of a pool removed from the config are
 * stopped (they hold no lease, so nothing else would ever end them), while a sandbox handed out of that
 * pool belongs to its key and keeps running.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../../src/store/index.js";
import { api, newDataDir, type ServeProcess, startServe, testServiceId, until } from "./serve.js";

const KEY = "pool-config-key-aaaaaaaaaaaa";

describe("pools follow the config across a restart (swerex serve, SQLite)", () => {
  let data: Awaited<ReturnType<typeof newDataDir>>;
  let serve: ServeProcess | undefined;
  const serviceId = testServiceId();
  const call = (method: string, path: string, body?: unknown) =>
    api(serve?.url ?? "", method, path, { key: KEY, ...(body !== undefined ? { body } : {}) });
  const start = async (pools: unknown[]) => {
    const file = join(data.dir, "serve.json");
    await writeFile(file, JSON.stringify({ pools }));
    serve = await startServe({
      dataDir: data.dir,
      keys: [KEY],
      serviceId,
      args: ["--config", file, "--instances.deployment.type=dummy"],
    });
  };
  const listAll = async () => (await call("GET", "/v1/sandboxes?limit=1000")).body.items;

  beforeAll(async () => {
    data = await newDataDir();
  });
  afterAll(async () => {
    await serve?.stop();
    await data?.remove();
  });

  it("shrinks a pool whose size went down and stops the ready sandboxes of a removed pool", async () => {
    await start([
      { name: "keep", size: 3 },
      { name: "gone", size: 2 },
    ]);
    await until(
      "both pools ready",
      async () => {
        const items = (await call("GET", "/v1/pools")).body.items as { ready: number; size: number }[];
        return items.length === 2 && items.every((p) => p.ready === p.size) ? items : undefined;
      },
      60_000,
    );
    const handed = await call("POST", "/v1/sandboxes", { pool: "gone" });
    expect(handed.status).toBe(201);
    await until(
      "pool gone refilled",
      async () => ((await call("GET", "/v1/pools")).body.items[1].ready === 2 ? true : undefined),
      60_000,
    );
    await serve?.stop();

    await start([{ name: "keep", size: 1 }]);
    const pools = await until(
      "pool keep shrunk to 1, nothing else listed",
      async () => {
        const items = (await call("GET", "/v1/pools")).body.items as { name: string; ready: number }[];
        return items.length === 1 && items[0]?.ready === 1 ? items : undefined;
      },
      60_000,
    );
    expect(pools).toMatchObject([{ name: "keep", size: 1, ready: 1, starting: 0 }]);
    // The handed-out sandbox of the removed pool is the key's: still running.
    expect((await call("GET", `/v1/sandboxes/${handed.body.id}`)).body).toMatchObject({
      state: "running",
      pool: "gone",
    });
    expect((await listAll()).map((r: { id: string }) => r.id)).toEqual([handed.body.id]);
    // Pool-owned records are shown to no key: read the registry itself. Nothing of pool `gone` is left
    // alive but the handed-out one, and `keep` holds exactly its new size.
    const store = await createStore(`sqlite:${data.dir}/swerex.db`);
    try {
      const alive = await until(
        "the removed pool's ready sandboxes stopped",
        async () => {
          const page = await store.listSandboxes({
            states: ["queued", "starting", "running", "paused", "stopping"],
          });
          return page.items.length === 2 ? page.items : undefined;
        },
        60_000,
      );
      const handedRec = alive.find((r) => r.id === handed.body.id);
      expect(handedRec?.pool).toBe("gone");
      expect(handedRec?.owner.startsWith("pool:")).toBe(false);
      expect(alive.filter((r) => r.id !== handed.body.id).map((r) => [r.owner, r.pool])).toEqual([
        ["pool:keep", "keep"],
      ]);
    } finally {
      await store.close();
    }
  }, 180_000);
});
