/**
 * The `docker` backend over a fleet of Docker hosts (`docker_hosts:`): one `DockerBackend` per engine, each
 * with its own client and the address at which that host's published ports are reached. A sandbox starts
 * on the host placement chose (`StartContext.host`); its handle names the host, so probe, stop and the
 * pass-through go to the right engine from any replica. A host that does not answer makes `probe` say
 * `unreachable` (not `gone`): deciding that its sandboxes are lost is the health checker's job, after its
 * grace period.
 */
import type Docker from "dockerode";
import type { Logger } from "pino";
import type { DeploymentConfig } from "../deployment/index.js";
import { imageExists, pingEngine } from "../docker/engine.js";
import { dockerClientFor } from "../docker/hosts.js";
import type { Json } from "../store/types.js";
import { DockerBackend } from "./backends/docker.js";
import {
  type BackendAdapter,
  type BackendResource,
  handleString,
  type ProbeResult,
  type RuntimeTarget,
  type StartContext,
} from "./backends/types.js";
import type { DockerHostConfig } from "./fleet-config.js";
import { withDeadline } from "./fleet-health.js";

/** Bound on the calls placement makes per host (image present?). */
const IMAGE_CHECK_TIMEOUT_MS = 5000;
/** A "no such image" answer is re-asked after this long (someone may load it meanwhile). */
const IMAGE_ABSENT_TTL_MS = 2000;
/** Listing a host that went away must not hold up reconciliation of the others. */
const LIST_TIMEOUT_MS = 10_000;

export interface FleetHost {
  config: DockerHostConfig;
  docker: Docker;
  backend: DockerBackend;
}

export interface FleetDockerBackendOptions {
  hosts: readonly DockerHostConfig[];
  serviceId: string;
  logger: Logger;
}

export class FleetDockerBackend implements BackendAdapter {
  readonly type = "docker";
  readonly canPause = false;
  readonly hosts: ReadonlyMap<string, FleetHost>;
  /** image@host -> known present (true, kept) or absent until the given time. */
  private readonly images = new Map<string, true | number>();

  constructor(opts: FleetDockerBackendOptions) {
    const hosts = new Map<string, FleetHost>();
    for (const config of opts.hosts) {
      const docker = dockerClientFor(config.docker_host, {
        ca: config.tls_ca,
        cert: config.tls_cert,
        key: config.tls_key,
      });
      const logger = opts.logger.child({ host: config.name });
      hosts.set(config.name, {
        config,
        docker,
        backend: new DockerBackend({ serviceId: opts.serviceId, logger, docker }),
      });
    }
    this.hosts = hosts;
  }

  host(name: string): FleetHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no docker host ${JSON.stringify(name)} in this service's fleet`);
    return h;
  }

  private hostOf(handle: Json): FleetHost {
    return this.host(handleString(handle, "host"));
  }

  /** Pings one engine (the health checker's probe). */
  ping(name: string, timeoutMs: number): Promise<void> {
    return pingEngine(this.host(name).docker, timeoutMs);
  }

  /** Whether `image` is on the host; cached (present for good, absent for a few seconds). */
  async hasImage(name: string, image: string): Promise<boolean> {
    const key = `${image}@${name}`;
    const known = this.images.get(key);
    if (known === true) return true;
    if (typeof known === "number" && known > Date.now()) return false;
    const present = await withDeadline(
      imageExists(this.host(name).docker, image),
      IMAGE_CHECK_TIMEOUT_MS,
      "image check timed out",
    ).catch(() => false);
    this.images.set(key, present ? true : Date.now() + IMAGE_ABSENT_TTL_MS);
    return present;
  }

  async start(config: DeploymentConfig, ctx: StartContext): Promise<Json> {
    if (config.type !== "docker") throw new Error(`docker backend got a ${config.type} config`);
    if (ctx.host === undefined) throw new Error("a fleet docker start needs the host placement chose");
    const host = this.host(ctx.host);
    const handle = await host.backend.start({ ...config, docker_internal_host: host.config.address }, ctx);
    this.images.set(`${config.image}@${ctx.host}`, true);
    return { ...(handle as Record<string, Json>), host: ctx.host };
  }

  target(handle: Json): Promise<RuntimeTarget> {
    return this.hostOf(handle).backend.target(handle);
  }

  probe(handle: Json): Promise<ProbeResult> {
    return this.hostOf(handle).backend.probe(handle);
  }

  stop(handle: Json): Promise<void> {
    return this.hostOf(handle).backend.stop(handle);
  }

  /** Resources of every host that answers; `ref` is `HOST/CONTAINER_ID`. */
  async listResources(): Promise<BackendResource[]> {
    const lists = await Promise.all(
      [...this.hosts.keys()].map((name) => this.listHost(name).catch(() => [])),
    );
    return lists.flat();
  }

  /** One host's resources (reconciliation of a host that came back). Throws when the host does not answer. */
  async listHost(name: string): Promise<BackendResource[]> {
    const list = await withDeadline(
      this.host(name).backend.listResources(),
      LIST_TIMEOUT_MS,
      `host ${name} did not list its containers within ${LIST_TIMEOUT_MS} ms`,
    );
    return list.map((r) => ({ ...r, ref: `${name}/${r.ref}`, description: `${r.description} on ${name}` }));
  }

  async removeResource(ref: string): Promise<void> {
    const slash = ref.indexOf("/");
    if (slash < 0) throw new Error(`fleet resource ref ${ref} names no host`);
    await this.host(ref.slice(0, slash)).backend.removeResource(ref.slice(slash + 1));
  }

  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.backend.close()));
  }
}
