/**
 * The `docker` backend: `DockerDeployment` starts the container (labelled with the service id and the
 * sandbox id instead of an owner pid, not in the process-wide signal registry), and the handle keeps the
 * container id, the runtime URL and its auth token; everything after start works from the handle.
 */
import type Docker from "dockerode";
import type { Logger } from "pino";
import {
  type DeploymentConfig,
  DockerDeployment,
  LABEL_SANDBOX,
  LABEL_SERVICE,
  serviceLabels,
} from "../../deployment/index.js";
import { engineMessage, engineStatus, sharedDockerClient } from "../../docker/engine.js";
import type { Json } from "../../store/types.js";
import { runtimeAnswers } from "./probe.js";
import {
  type BackendAdapter,
  type BackendResource,
  handleString,
  type ProbeResult,
  type RuntimeTarget,
  type StartContext,
} from "./types.js";

/** Bound on one Engine API call made from a handle (inspect, remove, list). */
const ENGINE_CALL_TIMEOUT_MS = 60_000;

export interface DockerBackendOptions {
  serviceId: string;
  logger: Logger;
  docker?: Docker;
}

export class DockerBackend implements BackendAdapter {
  readonly type = "docker";
  readonly canPause = false;
  private readonly docker: Docker;
  /** Deployments started by this process, by container id: stopping through them also frees their client. */
  private readonly live = new Map<string, DockerDeployment>();

  constructor(private readonly opts: DockerBackendOptions) {
    this.docker = opts.docker ?? sharedDockerClient();
  }

  async start(config: DeploymentConfig, ctx: StartContext): Promise<Json> {
    if (config.type !== "docker") throw new Error(`docker backend got a ${config.type} config`);
    const log = this.opts.logger.child({ sandbox: ctx.sandboxId });
    const deployment = new DockerDeployment(config, {
      docker: this.docker,
      ownerLabels: serviceLabels(ctx.serviceId, ctx.sandboxId),
      register: false,
      onProgress: (message) => log.info(message),
    });
    await deployment.start({ signal: ctx.signal });
    const endpoint = deployment.endpoint;
    if (!endpoint) {
      await deployment.stop();
      throw new Error("the docker deployment started without an endpoint");
    }
    this.live.set(endpoint.containerId, deployment);
    return {
      container_id: endpoint.containerId,
      container_name: endpoint.containerName,
      url: endpoint.url,
      auth_token: endpoint.authToken,
      remove_container: config.remove_container,
    };
  }

  async target(handle: Json): Promise<RuntimeTarget> {
    return { url: handleString(handle, "url"), headers: { "x-api-key": handleString(handle, "auth_token") } };
  }

  async probe(handle: Json): Promise<ProbeResult> {
    const id = handleString(handle, "container_id");
    try {
      const info = await this.docker
        .getContainer(id)
        .inspect({ abortSignal: AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS) });
      if (!info.State.Running) return "gone";
    } catch (err) {
      if (engineStatus(err) === 404) return "gone";
      return "unreachable";
    }
    return (await runtimeAnswers(await this.target(handle))) ? "alive" : "unreachable";
  }

  async stop(handle: Json): Promise<void> {
    const id = handleString(handle, "container_id");
    const deployment = this.live.get(id);
    if (deployment) {
      this.live.delete(id);
      await deployment.stop();
      return;
    }
    const keep = (handle as { remove_container?: unknown }).remove_container === false;
    await this.removeContainer(id, keep);
  }

  async listResources(): Promise<BackendResource[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_SERVICE}=${this.opts.serviceId}`] },
      abortSignal: AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS),
    } as Docker.ContainerListOptions);
    return list.map((c) => ({
      sandboxId: c.Labels?.[LABEL_SANDBOX] ?? "",
      ref: c.Id,
      active: c.State === "running" || c.State === "created" || c.State === "restarting",
      description: `container ${(c.Names?.[0] ?? c.Id).replace(/^\//, "")} (${c.State})`,
    }));
  }

  async removeResource(ref: string): Promise<void> {
    await this.removeContainer(ref, false);
  }

  /** Kills (kept containers) or removes it; a container already gone or already being removed is fine. */
  private async removeContainer(id: string, keep: boolean): Promise<void> {
    const container = this.docker.getContainer(id);
    const abortSignal = AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS);
    try {
      if (keep) await container.kill({ abortSignal });
      else await container.remove({ force: true, v: true, abortSignal });
    } catch (err) {
      const status = engineStatus(err);
      if (status === 404 || status === 409) return;
      throw new Error(`could not remove container ${id.slice(0, 12)}: ${engineMessage(err)}`);
    }
  }

  async close(): Promise<void> {
    // Sandboxes outlive the service; only forget the in-process deployment objects.
    this.live.clear();
  }
}
