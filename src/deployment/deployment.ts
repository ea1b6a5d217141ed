/**
 * The Deployment contract: start and stop one sandbox and hand out its runtime (SWE-ReX's
 * `AbstractDeployment`). Status events replace SWE-ReX's `on_custom_step` hooks.
 */
import { EventEmitter } from "node:events";
import { DeploymentNotStartedError } from "../runtime/errors.js";
import type { IsAliveResponse } from "../runtime/protocol.js";
import type { IsAliveOptions, Runtime } from "../runtime/runtime.js";

export interface StartOptions {
  /** Aborting cancels a start in progress; whatever it had created is cleaned up. */
  signal?: AbortSignal;
}

export interface Deployment {
  start(opts?: StartOptions): Promise<void>;
  /** Idempotent; frees the sandbox even when its runtime is dead. */
  stop(): Promise<void>;
  isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse>;
  /** Throws `DeploymentNotStartedError` before `start()` and after `stop()`. */
  readonly runtime: Runtime;
  /** `status`: SWE-ReX's custom steps. `progress`: finer lines for logs (pull progress, "started container X"). */
  on(event: "status" | "progress", fn: (text: string) => void): this;
  off(event: "status" | "progress", fn: (text: string) => void): this;
}

/** SWE-ReX's `DeploymentHook`: anything with `onCustomStep` can follow a deployment's steps. */
export interface DeploymentHook {
  onCustomStep(message: string): void;
}

/** Shared plumbing: status events, hooks, and the `runtime` accessor guard. */
export abstract class BaseDeployment extends EventEmitter implements Deployment {
  protected _runtime: Runtime | undefined;

  abstract start(opts?: StartOptions): Promise<void>;
  abstract stop(): Promise<void>;
  abstract isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse>;

  get runtime(): Runtime {
    if (!this._runtime) throw new DeploymentNotStartedError();
    return this._runtime;
  }

  /** Follows every status step, as SWE-ReX's `add_hook`. */
  addHook(hook: DeploymentHook): void {
    this.on("status", (step: string) => hook.onCustomStep(step));
  }

  protected status(step: string): void {
    this.emit("status", step);
  }

  protected emitProgress(message: string): void {
    this.emit("progress", message);
  }
}
