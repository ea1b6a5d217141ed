/**
 * One running control-plane service: migrate the store, reconcile it with the backends, start the reaper,
 * listen. `close()` is the graceful shutdown: stop accepting, finish requests in flight and starts in
 * progress, stop the reaper, and leave sandboxes running (their leases own them) unless `stopSandboxes`.
 */
import { hostname } from "node:os";
import { storeAgsPacer } from "../../controlplane/ags-pacer.js";
import { ScaleConfig } from "../../controlplane/fleet-config.js";
import { DUTY_TTL_MS } from "../../controlplane/fleet-duties.js";
import { createScale } from "../../controlplane/fleet-scale.js";
import {
  type BackendAdapter,
  createBackends,
  Reaper,
  type ReconcileReport,
  reconcile,
  SandboxService,
  type SandboxServiceOptions,
} from "../../controlplane/index.js";
import { livenessDuty, newStarterId } from "../../controlplane/liveness.js";
import { REAPER_DUTY } from "../../controlplane/reaper.js";
import { DEFAULT_MAX_ROLLOUTS, RolloutService } from "../../controlplane/rollouts.js";
import { connectableHost, formatHttpUrl } from "../start.js";
import { createControlServer } from "./app.js";
import { createControlMetrics } from "./metrics.js";

/** While closing, how often connections that went idle after their last answer are closed. */
const IDLE_SWEEP_MS = 100;

export interface ControlServiceOptions
  extends Pick<
    SandboxServiceOptions,
    | "store"
    | "serviceId"
    | "defaults"
    | "defaultTtlSec"
    | "maxTtlSec"
    | "maxSandboxes"
    | "maxSandboxesPerKey"
    | "logger"
  > {
  host: string;
  port: number;
  apiKeys: readonly string[];
  publicUrl?: string;
  bodyLimitBytes?: number;
  reapIntervalMs?: number;
  /** Default: docker, local, dummy. */
  backends?: Map<string, BackendAdapter>;
  /** Rollouts running at once (the rest queue); default 16, 0 = no limit. */
  maxRollouts?: number;
  /** Fleet of Docker hosts, overflow, warm pools, admission (docs/control-plane.md). */
  scale?: ScaleConfig;
}

export interface RunningControlService {
  url: string;
  port: number;
  reconciled: ReconcileReport;
  service: SandboxService;
  rollouts: RolloutService;
  close(opts?: { stopSandboxes?: boolean }): Promise<void>;
}

export async function startControlService(opts: ControlServiceOptions): Promise<RunningControlService> {
  const { store, logger } = opts;
  await store.migrate();
  const tree = opts.defaults.tree;
  const agsCredentials = Object.fromEntries(
    ["secret_id", "secret_key"].filter((k) => typeof tree[k] === "string").map((k) => [k, tree[k] as string]),
  );
  const holder = `${opts.serviceId}/${hostname()}/${process.pid}`;
  // Alive before any sandbox names this life as its starter (the duty runner renews it from start()).
  const starter = newStarterId(holder);
  await store.acquireDuty(livenessDuty(starter), holder, DUTY_TTL_MS);
  const scale = createScale({
    config: opts.scale ?? ScaleConfig.parse({}),
    store,
    serviceId: opts.serviceId,
    holder,
    starter,
    logger,
    backends:
      opts.backends ??
      createBackends({
        serviceId: opts.serviceId,
        logger,
        agsCredentials,
        // Replicas share one PostgreSQL store: they share its AGS rate budget too.
        ...(store.kind === "postgres" ? { agsPacer: storeAgsPacer(store) } : {}),
      }),
    defaults: opts.defaults,
    maxSandboxes: opts.maxSandboxes,
  });
  const backends = scale.backends;
  const metrics = createControlMetrics(store, [...backends.keys()]);
  const service = new SandboxService({
    store,
    serviceId: opts.serviceId,
    starter,
    backends,
    defaults: opts.defaults,
    defaultTtlSec: opts.defaultTtlSec,
    maxTtlSec: opts.maxTtlSec,
    maxSandboxes: opts.maxSandboxes,
    maxSandboxesPerKey: opts.maxSandboxesPerKey,
    logger,
    events: metrics.events,
    ...scale.serviceOptions,
  });
  scale.attach(service);
  // Another live replica (it holds the reaper's lease) owns the starts in flight: reconciling them here
  // would fail them. Start-up reconciliation is for a service coming back alone; a lease still held by a
  // killed earlier life of this service on this machine is stale, not another replica's.
  const leader = await store.getDuty(REAPER_DUTY);
  const othersAlive =
    leader !== undefined &&
    leader.holder !== holder &&
    leader.expires_at > Date.now() &&
    !deadLocalHolder(leader.holder, `${opts.serviceId}/${hostname()}/`);
  const reconciled = othersAlive
    ? { adopted: [], lost: [], finished: [], failed: [], stopped: [], orphansRemoved: [] }
    : await reconcile({ store, service, backends, logger });
  const rollouts = await RolloutService.start({
    store,
    sandboxes: service,
    defaults: opts.defaults,
    maxRollouts: opts.maxRollouts ?? DEFAULT_MAX_ROLLOUTS,
    maxTtlSec: opts.maxTtlSec,
    logger,
    // Rollouts run in the replica that accepted them: with another replica alive, unfinished rollouts may
    // be its own, so only a service coming back alone fails the previous life's rollouts.
    recover: !othersAlive,
  });
  const reaper = new Reaper({
    store,
    service,
    holder,
    logger,
    events: metrics.events,
    ...(opts.reapIntervalMs ? { intervalMs: opts.reapIntervalMs } : {}),
  });
  const { app } = createControlServer({
    service,
    store,
    apiKeys: opts.apiKeys,
    logger,
    metrics,
    rollouts,
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl.replace(/\/+$/, "") } : {}),
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
    pools: () => scale.pools,
  });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await rollouts.close();
    await Promise.allSettled([...backends.values()].map((b) => b.close()));
    throw err;
  }
  reaper.start();
  await scale.start();
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  let closing: Promise<void> | undefined;
  return {
    url: formatHttpUrl(connectableHost(opts.host), port),
    port,
    reconciled,
    service,
    rollouts,
    close(closeOpts = {}) {
      closing ??= (async () => {
        // Requests in flight finish; their keep-alive connections are closed as soon as they go idle
        // (fastify only closes the connections that are idle when close() starts).
        const idle = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
        try {
          // Running rollouts end (failed: infrastructure) and stop their sandboxes while the server closes.
          await Promise.all([app.close(), rollouts.close()]);
        } finally {
          clearInterval(idle);
        }
        await service.drain();
        await scale.stop();
        await reaper.stop();
        if (closeOpts.stopSandboxes) {
          const ids: string[] = [];
          for await (const rec of service.active()) ids.push(rec.id);
          await Promise.allSettled(ids.map((id) => service.stop(id)));
          logger.info({ stopped: ids.length }, "stopped every sandbox (--stop_on_exit)");
        }
        await Promise.allSettled([...backends.values()].map((b) => b.close()));
      })();
      return closing;
    },
  };
}

/**
 * Whether a duty holder is a killed earlier life of this service on this machine (same service id and host,
 * its process gone): its lease is stale, not another replica's.
 */
function deadLocalHolder(holder: string, prefix: string): boolean {
  if (!holder.startsWith(prefix)) return false;
  const pid = Number(holder.slice(prefix.length));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
