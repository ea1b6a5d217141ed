/**
 * LocalDeployment (SWE-ReX `deployment/local.py`): runs commands on this machine through a `LocalRuntime`,
 * with no sandbox around it.
 */
import { z } from "zod";
import { LocalRuntime, type LocalRuntimeOptions } from "../runtime/local/index.js";
import type { IsAliveResponse } from "../runtime/protocol.js";
import type { IsAliveOptions } from "../runtime/runtime.js";
import { BaseDeployment } from "./deployment.js";

export const LocalDeploymentConfig = z.strictObject({
  type: z.literal("local").default("local"),
});
export type LocalDeploymentConfig = z.infer<typeof LocalDeploymentConfig>;
export type LocalDeploymentConfigInput = z.input<typeof LocalDeploymentConfig>;

export interface LocalDeploymentOptions {
  logger?: LocalRuntimeOptions["logger"];
}

export class LocalDeployment extends BaseDeployment {
  readonly config: LocalDeploymentConfig;
  private readonly logger: LocalRuntimeOptions["logger"];

  constructor(config: LocalDeploymentConfigInput = {}, opts: LocalDeploymentOptions = {}) {
    super();
    this.config = LocalDeploymentConfig.parse(config);
    this.logger = opts.logger;
  }

  async start(): Promise<void> {
    if (this._runtime) return;
    this.status("Starting runtime");
    this._runtime = new LocalRuntime(this.logger ? { logger: this.logger } : {});
  }

  async stop(): Promise<void> {
    const runtime = this._runtime;
    this._runtime = undefined;
    await runtime?.close();
  }

  describe(): string {
    return "local bash sessions of this process (their temp directories)";
  }

  /** Before `start()` and after `stop()`: `{is_alive: false, message: "Runtime is None."}` (does not throw). */
  async isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse> {
    if (!this._runtime) return { is_alive: false, message: "Runtime is None." };
    return this._runtime.isAlive(opts);
  }
}
