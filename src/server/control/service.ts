/**
 * One running control-plane service: migrate the store, reconcile it with the backends, start the reaper,
 * listen. `close()` is the graceful shutdown: stop accepting, finish requests in flight and starts in
 * progress, stop the reaper, and leave sandboxes running (their leases own them) unless `stopSandboxes`.
 */
import type { Logger } from "pino";
import {
  type BackendAdapter,
  createBackends,
  Reaper,
  type ReconcileReport,
  reconcile,
  SandboxService,
  type SandboxServiceOptions,
} from "../../controlplane/index.js";
import { connectableHost, formatHttpUrl } from "../start.js";
import { createControlServer } from "./app.js";
import { createControlMetrics } from "./metrics.js";

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
}

export interface RunningControlService {
  url: string;
  port: number;
  reconciled: ReconcileReport;
  service: SandboxService;
  close(opts?: { stopSandboxes?: boolean }): Promise<void>;
}

export async function startControlService(opts: ControlServiceOptions): Promise<RunningControlService> {
  const { store, logger } = opts;
  await store.migrate();
  const backends = opts.backends ?? createBackends({ serviceId: opts.serviceId, logger });
  const metrics = createControlMetrics(store, [...backends.keys()]);
  const service = new SandboxService({
    store,
    serviceId: opts.serviceId,
    backends,
    defaults: opts.defaults,
    defaultTtlSec: opts.defaultTtlSec,
    maxTtlSec: opts.maxTtlSec,
    maxSandboxes: opts.maxSandboxes,
    maxSandboxesPerKey: opts.maxSandboxesPerKey,
    logger,
    events: metrics.events,
  });
  const reconciled = await reconcile({ store, service, backends, logger });
  const reaper = new Reaper({
    store,
    service,
    holder: `${opts.serviceId}/${process.pid}`,
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
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl.replace(/\/+$/, "") } : {}),
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
  });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await Promise.allSettled([...backends.values()].map((b) => b.close()));
    throw err;
  }
  reaper.start();
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  let closing: Promise<void> | undefined;
  return {
    url: formatHttpUrl(connectableHost(opts.host), port),
    port,
    reconciled,
    service,
    close(closeOpts = {}) {
      closing ??= (async () => {
        await app.close();
        await service.drain();
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
