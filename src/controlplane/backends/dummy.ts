/**
 * The `dummy` backend (tests, benchmarks): every sandbox shares one in-process runtime server over a
 * `DummyRuntime`, so the pass-through has a real swerex-remote to talk to and a start costs nothing.
 */
import { randomUUID } from "node:crypto";
import type { DeploymentConfig } from "../../deployment/index.js";
import { DummyRuntime } from "../../runtime/index.js";
import { type RunningRuntimeServer, startRuntimeServer } from "../../server/index.js";
import type { Json } from "../../store/types.js";
import type { BackendAdapter, BackendResource, ProbeResult, RuntimeTarget, StartContext } from "./types.js";

export class DummyBackend implements BackendAdapter {
  readonly type = "dummy";
  readonly canPause = false;
  private readonly token = randomUUID();
  private server: Promise<RunningRuntimeServer> | undefined;

  private shared(): Promise<RunningRuntimeServer> {
    this.server ??= startRuntimeServer({ authToken: this.token, runtime: new DummyRuntime() });
    return this.server;
  }

  async start(config: DeploymentConfig, ctx: StartContext): Promise<Json> {
    if (config.type !== "dummy") throw new Error(`dummy backend got a ${config.type} config`);
    ctx.signal.throwIfAborted();
    return {};
  }

  async target(): Promise<RuntimeTarget> {
    const server = await this.shared();
    return { url: server.url, headers: { "x-api-key": this.token } };
  }

  async probe(): Promise<ProbeResult> {
    return "alive";
  }

  async stop(): Promise<void> {}

  async listResources(): Promise<BackendResource[]> {
    return [];
  }

  async removeResource(): Promise<void> {}

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await (await server)?.close();
  }
}
