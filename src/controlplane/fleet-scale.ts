/**
 * The scale-out parts of one service replica, built from the `ScaleConfig` and wired around the
 * `SandboxService`: the fleet docker backend (replacing the single-engine one when `docker_hosts` is set),
 * placement with overflow, host health, the admission queue, warm pools, and the duties that run once
 * across replicas (pool refill, fleet watch, the sweep of starts abandoned by a dead replica). Order of life: `createScale` (before the service: it
 * supplies backends and service options) -> `attach(service)` -> `start()` -> `stop()`.
 */
import type { Logger } from "pino";
import { ConfigError, type ConfigTree } from "../config/index.js";
import type { DeploymentConfig } from "../deployment/index.js";
import type { Store } from "../store/types.js";
import { AdmissionQueue } from "./admission.js";
import type { BackendAdapter } from "./backends/types.js";
import { type DeploymentDefaults, resolveDeployment } from "./deployments.js";
import { errorInfo } from "./errors.js";
import { FleetDockerBackend } from "./fleet-backend.js";
import { DEFAULT_MAX_QUEUE, DEFAULT_QUEUE_TIMEOUT_SEC, type ScaleConfig } from "./fleet-config.js";
import { DutyRunner } from "./fleet-duties.js";
import { FleetHealth } from "./fleet-health.js";
import { FleetPlacer } from "./fleet-placer.js";
import { FleetReconciler } from "./fleet-reconcile.js";
import { livenessDuty } from "./liveness.js";
import { PoolManager, WARM_INTERVAL_MS } from "./pool-manager.js";
import type { SandboxService, SandboxServiceOptions } from "./sandboxes.js";
import { STALE_STARTS_DUTY, StaleStartSweeper } from "./stale-starts.js";
import { HOLDING_STATES } from "./states.js";

/** Engines are pinged this often by every replica (placement must know at once). */
const HEALTH_INTERVAL_MS = 2000;
/** Hosts that are up are reconciled this often besides when they come back (a missed comeback heals). */
const FULL_RECONCILE_EVERY_MS = 30_000;

export interface ScaleOptions {
  config: ScaleConfig;
  store: Store;
  serviceId: string;
  /** This replica's duty-lease holder name. */
  holder: string;
  /** This replica's per-life id (stale-starts.ts): its liveness lease is renewed with the duties. */
  starter: string;
  logger: Logger;
  /** The service's backends by type; the docker one is replaced by the fleet when there are hosts. */
  backends: Map<string, BackendAdapter>;
  defaults: DeploymentDefaults;
  /** The service-wide limit (0 = none), part of the room admission hands out. */
  maxSandboxes: number;
  healthIntervalMs?: number;
}

export interface Scale {
  backends: Map<string, BackendAdapter>;
  serviceOptions: Pick<SandboxServiceOptions, "placer" | "admission" | "pools">;
  fleet: FleetDockerBackend | undefined;
  health: FleetHealth | undefined;
  pools: PoolManager | undefined;
  duties: DutyRunner;
  admission: AdmissionQueue | undefined;
  attach(service: SandboxService): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createScale(opts: ScaleOptions): Scale {
  const { config, store, logger } = opts;
  const log = logger.child({ component: "scale" });
  const backends = new Map(opts.backends);
  let fleet: FleetDockerBackend | undefined;
  let health: FleetHealth | undefined;
  let placer: FleetPlacer | undefined;
  const needsReconcile = new Set<string>();
  const duties = new DutyRunner({ store, holder: opts.holder, logger });

  if (config.docker_hosts.length > 0) {
    fleet = new FleetDockerBackend({ hosts: config.docker_hosts, serviceId: opts.serviceId, logger });
    const f = fleet;
    backends.set("docker", fleet);
    health = new FleetHealth({
      hosts: config.docker_hosts.map((h) => h.name),
      ping: (name, ms) => f.ping(name, ms),
      lostAfterMs: config.host_lost_after * 1000,
      onDown: (host, error) =>
        log.warn({ host, error }, "docker host unreachable: no new sandboxes go there"),
      onUp: (host, downForMs) => {
        log.info({ host, down_s: Math.round(downForMs / 1000) }, "docker host answers again");
        needsReconcile.add(host);
        duties.kick("fleet");
      },
    });
    let overflow: DeploymentConfig | null = null;
    if (config.overflow) {
      try {
        overflow = resolveDeployment(config.overflow as ConfigTree, opts.defaults, [...backends.keys()]);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        throw new ConfigError(
          err.issues.map((i) => ({ ...i, where: i.where.replace(/^deployment/, "overflow") })),
        );
      }
    }
    placer = new FleetPlacer({ store, fleet, health, overflow });
  }

  const admissionConfig =
    config.admission ??
    (fleet ? { queue_timeout: DEFAULT_QUEUE_TIMEOUT_SEC, max_queue: DEFAULT_MAX_QUEUE } : null);
  const p = placer;
  const admission = admissionConfig
    ? new AdmissionQueue({
        maxQueue: admissionConfig.max_queue,
        room: async () => {
          const fleetRoom = p ? await p.room() : Number.POSITIVE_INFINITY;
          if (opts.maxSandboxes <= 0) return fleetRoom;
          const holding = await store.countSandboxes({ states: [...HOLDING_STATES] });
          return Math.min(fleetRoom, opts.maxSandboxes - holding);
        },
      })
    : undefined;

  let pools: PoolManager | undefined;
  let lastFull = 0;
  const scale: Scale = {
    backends,
    serviceOptions: {
      ...(placer ? { placer } : {}),
      ...(admission && admissionConfig
        ? { admission: { queue: admission, timeoutMs: admissionConfig.queue_timeout * 1000 } }
        : {}),
      // Late-bound: the pool manager needs the service, which needs these options.
      ...(config.pools.length > 0
        ? {
            pools: {
              deploymentOf: (name: string) => (pools as PoolManager).deploymentOf(name),
              handOut: (owner, name, req) => (pools as PoolManager).handOut(owner, name, req),
            },
          }
        : {}),
    },
    fleet,
    health,
    get pools() {
      return pools;
    },
    duties,
    admission,
    attach(service) {
      // Not a shared duty: every replica holds its own liveness lease; the runner renews it every tick.
      duties.add(livenessDuty(opts.starter), async () => {});
      const sweeper = new StaleStartSweeper({ store, service, backends, self: opts.starter, logger });
      duties.add(STALE_STARTS_DUTY, async () => {
        const swept = await sweeper.sweep();
        if (swept.failed.length > 0) duties.kick("pools");
      });
      // Runs without configured pools too: the first round stops the ready sandboxes of pools removed from
      // the config; only a configured pool is offered to the API.
      const pm = new PoolManager({
        store,
        service,
        pools: config.pools,
        logger,
        onChange: () => duties.kick("pools"),
      });
      if (config.pools.length > 0) pools = pm;
      duties.add("pools", () => pm.refill());
      if (fleet && health) {
        const h = health;
        const r = new FleetReconciler({ store, service, fleet, logger });
        duties.add("fleet", async () => {
          for (const host of h.lostHosts())
            await r.loseHost(host, Date.now() - (h.get(host)?.downSince ?? Date.now()));
          const full = Date.now() - lastFull > FULL_RECONCILE_EVERY_MS;
          if (full) lastFull = Date.now();
          for (const host of fleet?.hosts.keys() ?? []) {
            if (!h.isUp(host) || (!full && !needsReconcile.has(host))) continue;
            try {
              await r.reconcileHost(host);
              needsReconcile.delete(host);
            } catch (err) {
              log.warn({ host, error: errorInfo(err) }, "could not reconcile host");
            }
          }
          admission?.notify();
        });
      }
    },
    async start() {
      if (health) {
        await health.check().catch(() => undefined);
        const h = health;
        const loop = setInterval(() => {
          h.check()
            .then(() => admission?.notify())
            .catch(() => undefined);
        }, opts.healthIntervalMs ?? HEALTH_INTERVAL_MS);
        loop.unref();
        healthLoop = loop;
      }
      if (pools) {
        // Not a duty: each replica hands out, so each keeps its own connections to the candidates warm.
        const pm = pools;
        const warm = () => void pm.warm().catch(() => undefined);
        warm();
        warmLoop = setInterval(warm, WARM_INTERVAL_MS);
        warmLoop.unref();
      }
      duties.start();
    },
    async stop() {
      clearInterval(healthLoop);
      clearInterval(warmLoop);
      admission?.close();
      await duties.stop();
      await pools?.drain();
    },
  };
  let healthLoop: NodeJS.Timeout | undefined;
  let warmLoop: NodeJS.Timeout | undefined;
  return scale;
}
