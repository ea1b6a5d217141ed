/**
 * DummyDeployment (SWE-ReX `deployment/dummy.py`): wraps a `DummyRuntime` with scripted outputs, for tests of
 * code that drives a deployment. `start`/`stop` do nothing and it is always alive.
 */
import { z } from "zod";
import { DummyRuntime } from "../runtime/dummy.js";
import type { IsAliveResponse } from "../runtime/protocol.js";
import type { Runtime } from "../runtime/runtime.js";
import { BaseDeployment } from "./deployment.js";

export const DummyDeploymentConfig = z.strictObject({
  type: z.literal("dummy").default("dummy"),
});
export type DummyDeploymentConfig = z.infer<typeof DummyDeploymentConfig>;
export type DummyDeploymentConfigInput = z.input<typeof DummyDeploymentConfig>;

export class DummyDeployment extends BaseDeployment {
  readonly config: DummyDeploymentConfig;

  constructor(config: DummyDeploymentConfigInput = {}, opts: { runtime?: Runtime } = {}) {
    super();
    this.config = DummyDeploymentConfig.parse(config);
    this._runtime = opts.runtime ?? new DummyRuntime();
  }

  /** Unlike other deployments, the runtime exists from construction on and may be replaced (upstream: settable). */
  override get runtime(): Runtime {
    return super.runtime;
  }

  override set runtime(runtime: Runtime) {
    this._runtime = runtime;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async isAlive(): Promise<IsAliveResponse> {
    return { is_alive: true, message: "" };
  }
}
