/**
 * A rollout's sandbox as a `Deployment` for `runRollout`, made through the service's own SandboxService: it is
 * an ordinary service sandbox (a record, a lease, the owner's key), so it shows in `GET /v1/sandboxes`, the
 * reaper and start-up reconciliation know it, and nothing a rollout starts can leak. The `Idempotency-Key`
 * `rollout:<id>` ties one sandbox to one rollout for good.
 */
import type { ConfigTree } from "../config/index.js";
import { BaseDeployment, type StartOptions } from "../deployment/deployment.js";
import type { IsAliveResponse } from "../runtime/protocol.js";
import { RemoteRuntime } from "../runtime/remote.js";
import type { IsAliveOptions } from "../runtime/runtime.js";
import { ServiceError } from "./errors.js";
import type { SandboxService } from "./sandboxes.js";

export interface RolloutSandboxOptions {
  sandboxes: SandboxService;
  owner: string;
  rolloutId: string;
  deployment: ConfigTree;
  /** Take the sandbox from this warm pool instead of starting `deployment`. */
  pool?: string;
  ttlSec: number;
  /** Called with the sandbox id as soon as it is known (the rollout record names it). */
  onSandbox?: (sandboxId: string) => void;
}

export class RolloutSandboxDeployment extends BaseDeployment {
  private sandboxId: string | undefined;
  private remote: RemoteRuntime | undefined;

  constructor(private readonly opts: RolloutSandboxOptions) {
    super();
  }

  get id(): string | undefined {
    return this.sandboxId;
  }

  async start(startOpts: StartOptions = {}): Promise<void> {
    const { sandboxes, owner, rolloutId } = this.opts;
    const key = `rollout:${rolloutId}`;
    const request = {
      ...(this.opts.pool !== undefined ? { pool: this.opts.pool } : { deployment: this.opts.deployment }),
      ttl: this.opts.ttlSec,
      metadata: { rollout_id: rolloutId },
    };
    this.status("creating sandbox");
    // Admit without waiting, so the id is known (and a cancel can stop the start), then wait on the same key.
    const admitted = await sandboxes.create(owner, { ...request, wait: false }, key);
    this.sandboxId = admitted.record.id;
    this.opts.onSandbox?.(admitted.record.id);
    const signal = startOpts.signal;
    const onAbort = () => void sandboxes.stop(admitted.record.id).catch(() => undefined);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const { record } = await sandboxes.create(owner, { ...request, wait: true }, key);
      signal?.throwIfAborted();
      if (record.state !== "running") {
        throw new ServiceError(
          "start_failed",
          `sandbox ${record.id} is ${record.state}${record.error ? `: ${record.error.message}` : ""}`,
        );
      }
      const target = await sandboxes.runtimeTarget(owner, record.id);
      this.remote = new RemoteRuntime({ host: target.url, auth_token: "", headers: target.headers });
      this._runtime = this.remote;
      this.status("sandbox running");
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Stops the service sandbox (idempotent; also when the start failed half-way). */
  async stop(): Promise<void> {
    await this.remote?.dispose().catch(() => undefined);
    this._runtime = undefined;
    if (this.sandboxId) await this.opts.sandboxes.stop(this.sandboxId);
  }

  async isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse> {
    return this.runtime.isAlive(opts);
  }
}
