/**
 * The `local` backend: one `swerex-remote` child process per sandbox on the service's machine (its own
 * process group, a random auth token). The handle keeps pid, start time and port, so a restarted service
 * can adopt a server that survived (after a SIGKILL of the service the children live on). When the service
 * exits normally its children are killed with it, and a restart finds those sandboxes `lost`.
 */
import { randomUUID } from "node:crypto";
import type { DeploymentConfig } from "../../deployment/index.js";
import { processStartTime } from "../../deployment/owner.js";
import { type SpawnedRuntimeServer, spawnRuntimeServerProcess } from "../../server/index.js";
import type { Json } from "../../store/types.js";
import { runtimeAnswers } from "./probe.js";
import {
  type BackendAdapter,
  type BackendResource,
  handleNumber,
  handleString,
  type ProbeResult,
  type RuntimeTarget,
  type StartContext,
} from "./types.js";

/** How long an adopted server gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 5000;
const STOP_POLL_MS = 50;

export class LocalBackend implements BackendAdapter {
  readonly type = "local";
  readonly canPause = false;
  private readonly live = new Map<number, SpawnedRuntimeServer>();

  async start(config: DeploymentConfig, ctx: StartContext): Promise<Json> {
    if (config.type !== "local") throw new Error(`local backend got a ${config.type} config`);
    ctx.signal.throwIfAborted();
    const token = randomUUID();
    const server = await spawnRuntimeServerProcess({
      authToken: token,
      env: { SWEREX_SANDBOX_ID: ctx.sandboxId, SWEREX_SERVICE_ID: ctx.serviceId },
    });
    if (ctx.signal.aborted) {
      await server.stop();
      ctx.signal.throwIfAborted();
    }
    this.live.set(server.pid, server);
    return {
      pid: server.pid,
      start_time: processStartTime(server.pid) ?? "",
      url: server.url,
      auth_token: token,
    };
  }

  async target(handle: Json): Promise<RuntimeTarget> {
    return { url: handleString(handle, "url"), headers: { "x-api-key": handleString(handle, "auth_token") } };
  }

  /** The process of this handle, not another one that got the same pid later. */
  private sameProcess(handle: Json): boolean {
    const start = processStartTime(handleNumber(handle, "pid"));
    return start !== undefined && start === handleString(handle, "start_time");
  }

  async probe(handle: Json): Promise<ProbeResult> {
    if (!this.sameProcess(handle)) return "gone";
    return (await runtimeAnswers(await this.target(handle))) ? "alive" : "unreachable";
  }

  async stop(handle: Json): Promise<void> {
    const pid = handleNumber(handle, "pid");
    const server = this.live.get(pid);
    if (server) {
      this.live.delete(pid);
      await server.stop();
      return;
    }
    if (!this.sameProcess(handle)) return;
    killGroup(pid, "SIGTERM");
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.sameProcess(handle) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, STOP_POLL_MS));
    }
    killGroup(pid, "SIGKILL");
  }

  /** Child processes carry no labels the service could list; an interrupted start leaves nothing behind. */
  async listResources(): Promise<BackendResource[]> {
    return [];
  }

  async removeResource(): Promise<void> {}

  async close(): Promise<void> {
    this.live.clear();
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
