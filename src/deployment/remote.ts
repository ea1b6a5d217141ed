/**
 * RemoteDeployment (SWE-ReX `deployment/remote.py`): a `RemoteRuntime` pointed at a `swerex-remote` server
 * that is already running somewhere; this deployment neither starts nor stops that server.
 */
import type { z } from "zod";
import type { IsAliveResponse } from "../runtime/protocol.js";
import { RemoteRuntime, RemoteRuntimeConfig } from "../runtime/remote.js";
import type { IsAliveOptions } from "../runtime/runtime.js";
import { BaseDeployment } from "./deployment.js";

/**
 * The same keys as `RemoteRuntimeConfig` (upstream's two configs have the same fields): SWE-ReX's
 * `auth_token` (required), `host`, `port`, `timeout`, plus the runtime's retry and deadline settings.
 */
export const RemoteDeploymentConfig = RemoteRuntimeConfig;
export type RemoteDeploymentConfig = z.infer<typeof RemoteDeploymentConfig>;
export type RemoteDeploymentConfigInput = z.input<typeof RemoteDeploymentConfig>;

export class RemoteDeployment extends BaseDeployment {
  readonly config: RemoteDeploymentConfig;

  constructor(config: RemoteDeploymentConfigInput) {
    super();
    this.config = RemoteDeploymentConfig.parse(config);
  }

  async start(): Promise<void> {
    if (this._runtime) return;
    this.status("Starting runtime");
    this._runtime = new RemoteRuntime(this.config);
  }

  /** Closes the remote runtime's sessions (`POST /close`); a second call does nothing. */
  async stop(): Promise<void> {
    const runtime = this._runtime;
    this._runtime = undefined;
    await runtime?.close();
  }

  /** Throws `DeploymentNotStartedError` before `start()`, as upstream (it goes through `runtime`). */
  async isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse> {
    return this.runtime.isAlive(opts);
  }
}
