/**
 * The scale-out part of the service config (`swerex serve --config FILE`): a fleet of Docker hosts, the
 * overflow deployment used when every host is full, warm pools, and admission (the wait queue). zod
 * schemas, snake_case keys like the rest of the config; unknown keys are rejected so a misspelled key is an
 * error that names it. Deployment configs inside (`overflow`, a pool's `deployment`) are raw objects here:
 * the service merges them over its default deployment and validates the result with the deployment union.
 */
import { z } from "zod";
import { parseDockerHost } from "../docker/hosts.js";

/** Names appear in records, metrics labels and URLs: keep them to a safe alphabet. */
const NAME = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    "letters, digits, '.', '_' or '-' (at most 63, not starting with a symbol)",
  );

/** A raw deployment config (merged over the service default, then validated as a `DeploymentConfig`). */
const RawDeployment = z.record(z.string(), z.unknown());

export const DockerHostConfig = z
  .object({
    name: NAME,
    /** unix:///path, tcp://HOST:PORT (TLS with the files below), or ssh://USER@HOST[:PORT]. */
    docker_host: z.string().superRefine((url, ctx) => {
      try {
        parseDockerHost(url);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
      }
    }),
    tls_ca: z.string().min(1).nullable().default(null),
    tls_cert: z.string().min(1).nullable().default(null),
    tls_key: z.string().min(1).nullable().default(null),
    /** Sandboxes this host runs at most (queued work waits or overflows beyond it). */
    max_sandboxes: z.number().int().positive(),
    /**
     * Where this host's published container ports are reached from the service (the docker deployment's
     * `docker_internal_host`): http://127.0.0.1 for an engine on the service's own machine.
     */
    address: z.string().min(1).default("http://127.0.0.1"),
  })
  .strict();
export type DockerHostConfig = z.output<typeof DockerHostConfig>;

export const PoolConfig = z
  .object({
    name: NAME,
    /** Merged over the service's default deployment, like a create request's `deployment`. */
    deployment: RawDeployment.default({}),
    /** Ready sandboxes kept waiting. */
    size: z.number().int().min(0),
    /**
     * Upper bound on the pool's live sandboxes (ready + starting + handed out and not yet stopped): refill
     * pauses at it, so a pool cannot take a whole fleet. null: no bound beyond the fleet's own room.
     */
    max: z.number().int().positive().nullable().default(null),
    /** Seconds a ready sandbox may wait unclaimed before it is replaced by a fresh one; null: never. */
    idle_ttl: z.number().positive().nullable().default(null),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.max !== null && p.max < p.size) {
      ctx.addIssue({
        code: "custom",
        path: ["max"],
        message: `must be at least size (${p.size}), got ${p.max}`,
      });
    }
  });
export type PoolConfig = z.output<typeof PoolConfig>;

/** Defaults sized for an RL step: a few hundred creates wait up to a minute for room. */
export const DEFAULT_QUEUE_TIMEOUT_SEC = 60;
export const DEFAULT_MAX_QUEUE = 1000;

export const AdmissionConfig = z
  .object({
    /** Seconds a create waits for room (state `queued`) before failing; 0: fail at once (429). */
    queue_timeout: z.number().min(0).default(DEFAULT_QUEUE_TIMEOUT_SEC),
    /** Waiting requests at most; one more is answered 429 at once. */
    max_queue: z.number().int().min(0).default(DEFAULT_MAX_QUEUE),
  })
  .strict();
export type AdmissionConfig = z.output<typeof AdmissionConfig>;

export const ScaleConfig = z
  .object({
    docker_hosts: z.array(DockerHostConfig).default([]),
    /** Deployment used when every Docker host is full (e.g. `{type: tencentags, ...}`); null: wait instead. */
    overflow: RawDeployment.nullable().default(null),
    pools: z.array(PoolConfig).default([]),
    /** Seconds a Docker host may stay unreachable before its sandboxes become `lost`. */
    host_lost_after: z.number().positive().default(30),
    /**
     * Waiting for room instead of failing. null (no `admission:` and no `docker_hosts:`): a create over
     * `max_sandboxes` is a 429 at once; with a fleet, the defaults apply.
     */
    admission: AdmissionConfig.nullable().default(null),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.overflow !== null && cfg.docker_hosts.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["overflow"],
        message: "overflow needs docker_hosts (it is where a full fleet spills to)",
      });
    }
    for (const [key, list] of [
      ["docker_hosts", cfg.docker_hosts],
      ["pools", cfg.pools],
    ] as const) {
      const seen = new Set<string>();
      list.forEach((item, i) => {
        if (seen.has(item.name)) {
          ctx.addIssue({ code: "custom", path: [key, i, "name"], message: `duplicate name ${item.name}` });
        }
        seen.add(item.name);
      });
    }
  });
export type ScaleConfig = z.output<typeof ScaleConfig>;
export type ScaleConfigInput = z.input<typeof ScaleConfig>;
