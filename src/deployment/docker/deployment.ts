/**
 * DockerDeployment (SWE-ReX 7.4) over the Engine API: pull per policy, create a container labelled with its
 * owner, bind-mount the runtime bundle read-only at /nix/swerex, publish the server port on a random loopback
 * port, start `run-swerex` (or a `swerex-remote` from the image), and wait until it answers. A container that
 * exits during start-up fails the start at once with its logs. `stop()` never leaks the container, even when
 * the server inside is already dead; SIGINT/SIGTERM of our process stop it too (see ../registry.ts).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type Docker from "dockerode";
import { buildBundle } from "../../bundle/build.js";
import { BUNDLE_MOUNT_PATH, defaultBundleDir, LAUNCHER_NAME } from "../../bundle/paths.js";
import {
  demuxLogs,
  dockerUnreachableHint,
  engineMessage,
  engineStatus,
  followProgress,
  imageExists,
  sharedDockerClient,
} from "../../docker/engine.js";
import { DeploymentStartupError, DockerPullError, PythonTimeoutError } from "../../runtime/errors.js";
import { apiUrlOf, normalizeHost, RemoteRuntime, waitUntilAlive } from "../../runtime/index.js";
import { LABEL_KEEP, ownerLabels } from "../owner.js";
import { type DeploymentRun, RunLifecycleDeployment } from "../run-lifecycle.js";
import { DockerDeploymentConfig, type DockerDeploymentConfigInput } from "./config.js";
import { applyDockerArgs, type ContainerSettings, emptySettings } from "./docker-args.js";
import { parseCpus, parseSize } from "./units.js";

/** The server's port inside the container (SWE-ReX uses 8000 too). */
const CONTAINER_PORT = 8000;
/** Each `/is_alive` poll during start-up may take this long (generous: many starts share two cores). */
const ALIVE_POLL_TIMEOUT_MS = 2000;
const ALIVE_POLL_SLEEP_MS = 100;
/** Bounds on the clean-up calls, so `stop()` always returns. */
const CLOSE_TIMEOUT_MS = 5000;
const ENGINE_CALL_TIMEOUT_MS = 60_000;
/** How much of a failed container's log goes into the error. */
const LOG_TAIL_CHARS = 4000;

export interface DockerDeploymentOptions {
  /** Engine client; default: one shared client from DOCKER_HOST. */
  docker?: Docker;
  /**
   * Progress lines for slow steps (pull, bundle build, start); default: emitted as `progress` events, which
   * a CLI logs (library code never writes to stderr itself).
   */
  onProgress?: (message: string) => void;
  /**
   * Labels naming who owns the container; default: this process (`ownerLabels()`, which `swerex reap`
   * reaps once the process is gone). The control plane passes `serviceLabels(...)` instead.
   */
  ownerLabels?: Record<string, string>;
  /** Whether SIGINT/SIGTERM of this process stop the container (../registry.ts). Default true. */
  register?: boolean;
}

/** Where a started container's runtime answers, and with which token: enough to reach it from elsewhere. */
export interface DockerEndpoint {
  containerId: string;
  containerName: string;
  /** `http://host:port` of the swerex-remote server. */
  url: string;
  /** Its `--auth-token` (a secret). */
  authToken: string;
}

/** Everything one start() created, so stop() (or a failed start) can undo exactly that. */
interface Run extends DeploymentRun {
  name: string;
  container?: Docker.Container;
  runtime?: RemoteRuntime;
  endpoint?: DockerEndpoint;
}

/** Raced against `ms`; the value or undefined on timeout. Errors are swallowed (clean-up must go on). */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free TCP port on loopback (host networking only: the server then binds on the host itself). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** SWE-ReX's container name: the image reduced to `[A-Za-z0-9._-]`, a dash and a uuid. */
export function containerNameFor(image: string): string {
  return `${image.replace(/[^A-Za-z0-9._-]/g, "")}-${randomUUID()}`;
}

export class DockerDeployment extends RunLifecycleDeployment<Run> {
  readonly config: DockerDeploymentConfig;
  private readonly docker: Docker;
  private readonly progress: (message: string) => void;
  private readonly owner: Record<string, string> | undefined;
  protected readonly register: boolean;

  constructor(
    config: DockerDeploymentConfigInput | DockerDeploymentConfig = {},
    opts: DockerDeploymentOptions = {},
  ) {
    super();
    this.config = DockerDeploymentConfig.parse(config);
    this.docker = opts.docker ?? sharedDockerClient();
    this.progress = opts.onProgress ?? ((message) => this.emitProgress(message));
    this.owner = opts.ownerLabels;
    this.register = opts.register ?? true;
  }

  static fromConfig(config: DockerDeploymentConfigInput | DockerDeploymentConfig): DockerDeployment {
    return new DockerDeployment(config);
  }

  /** The container's name while started (SWE-ReX's `container_name`). */
  get containerName(): string | undefined {
    return this.run?.name;
  }

  get containerId(): string | undefined {
    return this.run?.container?.id;
  }

  describe(): string {
    const id = this.containerId;
    return `docker container ${this.run?.name ?? "(not started)"}${id ? ` (${id.slice(0, 12)})` : ""}`;
  }

  /** Set once the runtime answers: how to reach it without this object (the control plane stores it). */
  get endpoint(): DockerEndpoint | undefined {
    return this.run?.runtime === this._runtime ? this.run?.endpoint : undefined;
  }

  protected newRun(): Run {
    return { controller: new AbortController(), name: containerNameFor(this.config.image) };
  }

  protected async startRun(run: Run, signal: AbortSignal): Promise<void> {
    const cfg = this.config;
    try {
      await this.ensureImage(signal); // the first call to the engine
    } catch (err) {
      // "connect ENOENT /var/run/docker.sock" alone does not tell a newcomer what to do.
      const hint = dockerUnreachableHint(err);
      if (hint) throw new DeploymentStartupError(hint.trimEnd(), { cause: err });
      throw err;
    }
    signal.throwIfAborted();
    const bundleDir = await this.ensureBundle();
    signal.throwIfAborted();

    const settings = this.containerSettings();
    const hostNetwork = settings.HostConfig.NetworkMode === "host";
    // With host networking nothing is published; the server binds a free host port itself (SWE-agent#996).
    const serverPort = hostNetwork ? (cfg.port ?? (await freePort())) : CONTAINER_PORT;
    const token = randomUUID();
    const serve = `--port ${serverPort} --auth-token ${token}`;
    // With runtime_mount=none the image brings the server: a bundle baked in at /nix/swerex (swerex bundle
    // image), else a `swerex-remote` on its PATH.
    const command = `${BUNDLE_MOUNT_PATH}/${LAUNCHER_NAME} ${serve} || swerex-remote ${serve}`;
    if (bundleDir !== null) settings.HostConfig.Binds.unshift(`${bundleDir}:${BUNDLE_MOUNT_PATH}:ro`);
    if (!hostNetwork) {
      settings.HostConfig.PortBindings = {
        [`${CONTAINER_PORT}/tcp`]: [
          { HostIp: this.publishHostIp(), HostPort: cfg.port ? String(cfg.port) : "" },
        ],
      };
    }
    const body = {
      Image: cfg.image,
      Cmd: [...cfg.exec_shell, command],
      Env: settings.Env,
      Labels: settings.Labels,
      ...(settings.User ? { User: settings.User } : {}),
      ...(settings.WorkingDir ? { WorkingDir: settings.WorkingDir } : {}),
      ...(settings.Hostname ? { Hostname: settings.Hostname } : {}),
      ...(hostNetwork ? {} : { ExposedPorts: { [`${CONTAINER_PORT}/tcp`]: {} } }),
      HostConfig: settings.HostConfig,
    };
    const query: Record<string, string> = { name: run.name };
    if (cfg.platform) query.platform = cfg.platform;
    try {
      // `_query`/`_body` keep the create body out of the URL (dockerode would otherwise send it twice).
      run.container = await this.docker.createContainer({
        _query: query,
        _body: body,
        abortSignal: AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS),
      } as unknown as Docker.ContainerCreateOptions);
      signal.throwIfAborted();
      await run.container.start();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new DeploymentStartupError(
        `Failed to start container for image ${cfg.image}: ${engineMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    signal.throwIfAborted();

    const hostPort = hostNetwork ? serverPort : await this.publishedPort(run.container);
    this.status("Starting runtime");
    this.progress(`started container ${run.name}; waiting for the runtime on port ${hostPort}`);
    run.runtime = new RemoteRuntime({ host: cfg.docker_internal_host, port: hostPort, auth_token: token });
    this._runtime = run.runtime;
    await this.waitForRuntime(run, run.runtime, signal);
    run.endpoint = {
      containerId: run.container.id,
      containerName: run.name,
      url: apiUrlOf(normalizeHost(cfg.docker_internal_host), hostPort),
      authToken: token,
    };
  }

  /** Pulls per `pull`: never (the image must be there), missing (only when absent), always. */
  private async ensureImage(signal: AbortSignal): Promise<void> {
    const { image, pull, platform } = this.config;
    if (pull === "never") {
      if (!(await imageExists(this.docker, image))) {
        throw new DockerPullError(`Image ${image} is not present locally and pull is 'never'`);
      }
      return;
    }
    if (pull === "missing" && (await imageExists(this.docker, image))) return;
    this.status("Pulling container image");
    this.progress(`pulling image ${image}`);
    try {
      const stream = await this.docker.pull(image, {
        ...(platform ? { platform } : {}),
        abortSignal: signal,
      });
      let last = 0;
      await followProgress(this.docker, stream, (e) => {
        // One line every few seconds is enough to show a long pull is moving.
        if (Date.now() - last > 3000 && e.status) {
          last = Date.now();
          this.progress(`pulling ${image}: ${e.status}`);
        }
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new DockerPullError(`Failed to pull image ${image}. Error: ${engineMessage(err)}`, {
        cause: err,
      });
    }
    this.progress(`pulled image ${image}`);
  }

  /** The host directory to bind-mount at /nix/swerex, or null to rely on the image's own `swerex-remote`. */
  private async ensureBundle(): Promise<string | null> {
    const mount = this.config.runtime_mount;
    if (mount === "none") return null;
    if (mount !== null) {
      if (!existsSync(join(mount, LAUNCHER_NAME))) {
        throw new DeploymentStartupError(
          `runtime_mount ${mount} holds no ${LAUNCHER_NAME} (build one with npm run build:bundle)`,
        );
      }
      return mount;
    }
    const dir = defaultBundleDir();
    if (!existsSync(join(dir, LAUNCHER_NAME))) {
      this.progress(`no runtime bundle at ${dir} yet; building it (once)`);
      await buildBundle({ outDir: dir, onProgress: this.progress });
    }
    return dir;
  }

  /** The create-body parts from the config fields, with `docker_args` applied on top (they win). */
  private containerSettings(): ContainerSettings {
    const cfg = this.config;
    const base = emptySettings();
    base.Env = Object.entries(cfg.env).map(([k, v]) => `${k}=${v}`);
    base.Labels = { ...cfg.labels };
    if (cfg.memory_limit !== null) base.HostConfig.Memory = parseSize(cfg.memory_limit);
    if (cfg.cpus !== null) base.HostConfig.NanoCpus = parseCpus(cfg.cpus);
    const settings = applyDockerArgs(cfg.docker_args, base);
    // Ours last: user labels must not be able to hide a container from the reaper.
    settings.Labels = {
      ...settings.Labels,
      ...(this.owner ?? ownerLabels()),
      ...(cfg.remove_container ? {} : { [LABEL_KEEP]: "true" }),
    };
    return settings;
  }

  /** Loopback unless we reach the engine's host by another address (Docker-in-Docker, SWE-ReX#253). */
  private publishHostIp(): string {
    const host = new URL(
      this.config.docker_internal_host.includes("://")
        ? this.config.docker_internal_host
        : `http://${this.config.docker_internal_host}`,
    ).hostname;
    return host === "127.0.0.1" || host === "localhost" ? "127.0.0.1" : "0.0.0.0";
  }

  private async publishedPort(container: Docker.Container): Promise<number> {
    const info = await container.inspect({ abortSignal: AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS) });
    const binding = info.NetworkSettings.Ports?.[`${CONTAINER_PORT}/tcp`]?.[0];
    const port = Number(binding?.HostPort);
    if (!port) {
      // Exited already, so nothing is published: report why.
      throw await this.exitError(container, info.State.ExitCode);
    }
    return port;
  }

  /** Polls `/is_alive` until `startup_timeout`; a container that exits first ends the wait at once. */
  private async waitForRuntime(run: Run, runtime: RemoteRuntime, signal: AbortSignal): Promise<void> {
    const container = run.container;
    if (!container) throw new Error("no container");
    const stopWatching = new AbortController();
    const both = AbortSignal.any([signal, stopWatching.signal]);
    const exited = container
      .wait({ abortSignal: both } as object)
      .then(async (r: { StatusCode?: number }) => {
        throw await this.exitError(container, r.StatusCode);
      });
    const alive = waitUntilAlive((timeoutMs) => runtime.isAlive({ timeoutMs }), {
      timeoutMs: this.config.startup_timeout * 1000,
      functionTimeoutMs: ALIVE_POLL_TIMEOUT_MS,
      pollIntervalMs: ALIVE_POLL_SLEEP_MS,
      signal: both,
    });
    try {
      await Promise.race([alive, exited]);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof PythonTimeoutError) {
        const logs = await this.logTail(container);
        throw new PythonTimeoutError(`${err.message}\nContainer ${run.name} logs:\n${logs}`);
      }
      throw err;
    } finally {
      stopWatching.abort();
      // The loser of the race rejects once aborted; nobody awaits it.
      alive.catch(() => {});
      exited.catch(() => {});
    }
  }

  private async exitError(
    container: Docker.Container,
    code: number | undefined,
  ): Promise<DeploymentStartupError> {
    const logs = await this.logTail(container);
    return new DeploymentStartupError(
      `Container process terminated (exit code ${code ?? "unknown"}) before the runtime started ` +
        `(image ${this.config.image}, container ${this.run?.name ?? container.id}).\nlogs:\n${logs}`,
      { extraInfo: { exit_code: code ?? null } },
    );
  }

  private async logTail(container: Docker.Container): Promise<string> {
    try {
      const buf = (await container.logs({
        stdout: true,
        stderr: true,
        follow: false,
        abortSignal: AbortSignal.timeout(10_000),
      } as Docker.ContainerLogsOptions & { follow: false })) as Buffer;
      const text = demuxLogs(buf);
      return text.length > LOG_TAIL_CHARS ? `...${text.slice(-LOG_TAIL_CHARS)}` : text || "(no output)";
    } catch (err) {
      return `(could not read the container's logs: ${engineMessage(err)})`;
    }
  }

  /** Closes the runtime (bounded, errors ignored), then kills and removes the container. */
  protected async doCleanup(run: Run): Promise<void> {
    if (run.runtime) {
      // The server may be dead already; a failed /close must never keep the container alive (spec 7.4).
      await settleWithin(run.runtime.close(), CLOSE_TIMEOUT_MS);
      await settleWithin(run.runtime.dispose(), CLOSE_TIMEOUT_MS);
    }
    if (this._runtime === run.runtime) this._runtime = undefined;
    const container = run.container;
    if (container) {
      const abortSignal = AbortSignal.timeout(ENGINE_CALL_TIMEOUT_MS);
      try {
        if (this.config.remove_container) await container.remove({ force: true, v: true, abortSignal });
        else await container.kill({ abortSignal });
      } catch (err) {
        // 404: already gone; 409: not running (kill) or removal already in progress.
        const status = engineStatus(err);
        if (status !== 404 && status !== 409) {
          this.progress(
            `could not remove container ${run.name}: ${engineMessage(err)} (swerex reap will find it)`,
          );
        }
      }
    }
    if (this.config.remove_images) {
      await this.docker
        .getImage(this.config.image)
        .remove()
        .catch((err: unknown) => {
          if (engineStatus(err) !== 404)
            this.progress(`could not remove image ${this.config.image}: ${engineMessage(err)}`);
        });
    }
  }
}
