import { createHash, randomBytes } from "node:crypto";
import Docker from "dockerode";
import type {
  BackendHandle,
  BackendStartSpec,
  LoopbackTarget,
  ResolvedImageMount,
  SandboxBackend,
} from "./types.js";

export interface DockerBackendOptions {
  /** A dockerode client; default `new Docker()` (honours DOCKER_HOST). */
  docker?: Docker;
  /** Port used when the tool declares none (SWE-ReX's AGS default). */
  defaultPort?: number;
  /** Extra labels on every container and volume. */
  labels?: Record<string, string>;
}

/** Label naming the emulator run that owns a container or volume (a reaper can find leftovers by it). */
export const EMULATOR_LABEL = "swerex.ags-emulator";

function imageMissing(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/**
 * Runs each instance as a container of the tool's image with its Command/Args, its declared ports
 * published on 127.0.0.1, and its image storage mounts. Docker 20.10 has no image mounts, so a mount is a
 * named volume filled from the mount image's SubPath through Docker's copy-up of image content into an
 * empty volume (done once per image and subpath, then shared).
 */
export class DockerBackend implements SandboxBackend {
  readonly kind = "docker" as const;
  private readonly docker: Docker;
  private readonly runId = randomBytes(4).toString("hex");
  private readonly volumes = new Map<string, Promise<string>>();
  private readonly containers = new Set<string>();

  constructor(private readonly opts: DockerBackendOptions) {
    this.docker = opts.docker ?? new Docker();
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [EMULATOR_LABEL]: this.runId, ...(this.opts.labels ?? {}), ...extra };
  }

  /** A named volume holding `subPath` of `reference`; one per (image, subpath) per emulator run. */
  private mountVolume(m: ResolvedImageMount): Promise<string> {
    const key = `${m.reference}\n${m.subPath}`;
    let vol = this.volumes.get(key);
    if (!vol) {
      vol = this.populateVolume(m, key);
      this.volumes.set(key, vol);
      vol.catch(() => this.volumes.delete(key));
    }
    return vol;
  }

  private async populateVolume(m: ResolvedImageMount, key: string): Promise<string> {
    const name = `swerex-agsemu-${this.runId}-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
    await this.docker.createVolume({ Name: name, Labels: this.labels() });
    // Creating a container with an empty named volume over a path that exists in its image copies that
    // path's content into the volume; the container itself never runs.
    const helper = await this.docker
      .createContainer({
        Image: m.reference,
        Entrypoint: ["/swerex-agsemu-never-runs"],
        Labels: this.labels(),
        HostConfig: { Mounts: [{ Type: "volume", Source: name, Target: m.subPath }] },
      })
      .catch((err: unknown) => {
        if (imageMissing(err))
          throw new Error(`mount image ${m.reference} is not present in the local engine`);
        throw err;
      });
    await helper.remove({ force: true, v: false });
    return name;
  }

  async start(spec: BackendStartSpec): Promise<BackendHandle> {
    if (!spec.image) throw new Error("the docker backend needs CustomConfiguration.Image");
    const ports = spec.ports.length > 0 ? spec.ports : [this.opts.defaultPort ?? 8000];
    const mounts = [];
    for (const m of spec.mounts) {
      mounts.push({
        Type: "volume" as const,
        Source: await this.mountVolume(m),
        Target: m.mountPath,
        ReadOnly: m.readOnly,
      });
    }
    spec.signal.throwIfAborted();
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of ports) {
      exposed[`${p}/tcp`] = {};
      bindings[`${p}/tcp`] = [{ HostIp: "127.0.0.1", HostPort: "" }];
    }
    const container = await this.docker
      .createContainer({
        name: `swerex-agsemu-${spec.instanceId.slice(0, 16)}-${randomBytes(3).toString("hex")}`,
        Image: spec.image,
        ...(spec.command ? { Entrypoint: spec.command } : {}),
        ...(spec.args ? { Cmd: spec.args } : {}),
        Env: spec.env.map((e) => `${e.name}=${e.value}`),
        ExposedPorts: exposed,
        Labels: this.labels({
          "swerex.ags-emulator.instance": spec.instanceId,
          "swerex.ags-emulator.tool": spec.toolId,
        }),
        HostConfig: { PortBindings: bindings, Mounts: mounts, Init: false },
      })
      .catch((err: unknown) => {
        if (imageMissing(err)) throw new Error(`image ${spec.image} is not present in the local engine`);
        throw err;
      });
    this.containers.add(container.id);
    let stopped = false;
    const remove = async () => {
      if (stopped) return;
      stopped = true;
      this.containers.delete(container.id);
      await container.remove({ force: true, v: false }).catch((err: unknown) => {
        if (!imageMissing(err)) throw err;
      });
    };
    try {
      await container.start();
      const info = await container.inspect();
      const targets = new Map<number, LoopbackTarget>();
      for (const p of ports) {
        const hostPort = info.NetworkSettings.Ports[`${p}/tcp`]?.[0]?.HostPort;
        if (hostPort) targets.set(p, { host: "127.0.0.1", port: Number(hostPort) });
      }
      spec.signal.throwIfAborted();
      return {
        target: (port) => targets.get(port),
        isAlive: async () => {
          if (stopped) return false;
          const s = await container.inspect().catch(() => undefined);
          return s?.State.Running === true;
        },
        pause: async () => {
          await container.pause();
        },
        resume: async () => {
          await container.unpause();
        },
        stop: remove,
        kill: async () => {
          await container.kill().catch(() => undefined);
          await remove();
        },
      };
    } catch (err) {
      await remove();
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      [...this.containers].map((id) => this.docker.getContainer(id).remove({ force: true, v: false })),
    );
    this.containers.clear();
    const names = await Promise.allSettled([...this.volumes.values()]);
    this.volumes.clear();
    await Promise.allSettled(
      names.map((n) =>
        n.status === "fulfilled" ? this.docker.getVolume(n.value).remove() : Promise.resolve(),
      ),
    );
  }
}
