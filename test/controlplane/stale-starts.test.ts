/**
 * The sweep of starts abandoned by a dead replica, in-process on real PostgreSQL and the real Docker
 * engine: records `queued`/`starting` whose starter's liveness lease lapsed are settled (a container that
 * answers is adopted, else the record fails and the container its start made is removed by label), while a
 * live replica's start, however long it has been running, and records without a starter are left alone.
 */
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DockerBackend } from "../../src/controlplane/backends/docker.js";
import { newSandboxId, SandboxService } from "../../src/controlplane/index.js";
import { livenessDuty, newStarterId } from "../../src/controlplane/liveness.js";
import { StaleStartSweeper } from "../../src/controlplane/stale-starts.js";
import { DockerDeploymentConfig } from "../../src/deployment/docker/config.js";
import { LABEL_SANDBOX, LABEL_SERVICE } from "../../src/deployment/index.js";
import { createStore } from "../../src/store/index.js";
import type { Json, NewSandbox, SandboxState, Store } from "../../src/store/types.js";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import type { TempDatabase } from "../store/fixtures.js";
import { describePostgres, tempPostgresDatabase } from "../store/pg-fixtures.js";
import { testServiceId } from "./serve.js";

const logger = pino({ level: "silent" });

describePostgres("stale starts (PostgreSQL)", () => {
  describeDocker("sweep of a dead replica's starts (Docker)", () => {
    const serviceId = testServiceId();
    let db: TempDatabase | undefined;
    let store: Store | undefined;
    let backend: DockerBackend | undefined;
    let service: SandboxService | undefined;

    beforeAll(async () => {
      db = await tempPostgresDatabase();
      store = await createStore(db.url);
      await store.migrate();
      backend = new DockerBackend({ serviceId, logger });
      service = new SandboxService({
        store,
        serviceId,
        backends: new Map([["docker", backend]]),
        defaults: { tree: {}, defaultType: "docker" },
        defaultTtlSec: 60,
        maxTtlSec: 600,
        maxSandboxes: 0,
        maxSandboxesPerKey: 0,
        logger,
      });
    }, 120_000);
    afterAll(async () => {
      await removeContainersWithLabel(`${LABEL_SERVICE}=${serviceId}`);
      await backend?.close();
      await store?.close();
      await db?.drop();
    }, 60_000);

    it("settles a dead replica's starts, removes what they made, and leaves a live replica's slow start alone", async () => {
      if (!store || !backend || !service) throw new Error("no set-up");
      const s = store;
      const [image, bundle] = await Promise.all([busyboxImage(), testBundle()]);
      const config = DockerDeploymentConfig.parse({
        image,
        pull: "never",
        runtime_mount: bundle,
        memory_limit: "256m",
      });
      const now = Date.now();
      const dead = newStarterId("svc/dead-host/4242");
      const live = newStarterId("svc/live-host/4343");
      // The dead replica's lease lapsed a minute ago; the live one's is current.
      await s.acquireDuty(livenessDuty(dead), "svc/dead-host/4242", 6000, now - 60_000);
      await s.acquireDuty(livenessDuty(live), "svc/live-host/4343", 60_000);
      const insert = (state: SandboxState, starter: string | null, handle: Json | null = null) => {
        const rec: NewSandbox = {
          id: newSandboxId(),
          owner: "owner-a",
          state,
          backend: "docker",
          deployment: { type: "docker", image },
          handle,
          metadata: {},
          pool: null,
          host: null,
          starter,
          error: null,
          // Ten minutes in: a slow start on a loaded machine, not a sign of death.
          created_at: now - 600_000,
          started_at: null,
          stopped_at: null,
          expires_at: null,
        };
        return s.insertSandbox(rec);
      };
      // Killed before its start wrote the handle: the container exists, labelled, but the record knows nothing.
      const bare = await insert("starting", dead);
      // Killed after the handle was written but before `running`: the container answers.
      const done = await insert("starting", dead);
      const [, handle] = await Promise.all([
        backend.start(config, { sandboxId: bare.id, serviceId, signal: new AbortController().signal }),
        backend.start(config, { sandboxId: done.id, serviceId, signal: new AbortController().signal }),
      ]);
      const withHandle = await s.updateSandbox(done.id, { handle });
      const queued = await insert("queued", dead);
      const slow = await insert("starting", live);
      const legacy = await insert("starting", null);
      expect(await containersWithLabel(`${LABEL_SANDBOX}=${bare.id}`)).toHaveLength(1);

      const sweeper = new StaleStartSweeper({
        store: s,
        service,
        backends: new Map([["docker", backend]]),
        self: newStarterId("svc/me/1"),
        logger,
      });
      const report = await sweeper.sweep();
      expect(report.failed.sort()).toEqual([bare.id, queued.id].sort());
      expect(report.finished).toEqual([done.id]);
      expect(report.orphansRemoved).toHaveLength(1);

      const starterLost = {
        class: "StarterLost",
        message: `the service replica that was starting this sandbox stopped (${dead})`,
      };
      for (const id of [bare.id, queued.id]) {
        expect(await s.getSandbox(id)).toMatchObject({ state: "failed", error: starterLost });
      }
      expect(await containersWithLabel(`${LABEL_SANDBOX}=${bare.id}`)).toHaveLength(0);
      const adopted = await s.getSandbox(done.id);
      expect(adopted).toMatchObject({ state: "running", handle: withHandle?.handle });
      expect(await backend.probe(handle)).toBe("alive");
      // The live replica's slow start and the record without a starter are untouched (same version).
      expect(await s.getSandbox(slow.id)).toEqual(slow);
      expect(await s.getSandbox(legacy.id)).toEqual(legacy);

      // Nothing stale is left: the next round changes nothing.
      expect(await sweeper.sweep()).toEqual({ failed: [], finished: [], orphansRemoved: [] });
      expect(await s.getSandbox(slow.id)).toEqual(slow);

      // The live replica goes away (its lease released): its start is swept now.
      await s.releaseDuty(livenessDuty(live), "svc/live-host/4343");
      const after = await sweeper.sweep();
      expect(after.failed).toEqual([slow.id]);
      expect(await s.getSandbox(slow.id)).toMatchObject({ state: "failed", error: { class: "StarterLost" } });
      expect(await s.getSandbox(legacy.id)).toEqual(legacy);

      expect((await service.stop(done.id)).state).toBe("stopped");
      expect(await containersWithLabel(`${LABEL_SERVICE}=${serviceId}`)).toHaveLength(0);
    }, 180_000);
  });
});
