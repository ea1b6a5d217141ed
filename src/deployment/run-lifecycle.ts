/**
 * The start/stop lifecycle shared by deployments that create something remote (a container, a sandbox of a
 * control plane): one record per start of everything it created, so that a failed or aborted start and
 * `stop()` undo exactly that, once. Guarantees: a second `start()` while started is an error; `stop()` during
 * a start aborts it and waits for it before cleaning up; clean-up runs once per start however often it is
 * asked for; a registered deployment is in the process-wide registry (stopped on SIGINT/SIGTERM) exactly
 * while it holds something.
 */
import { DeploymentStartupError } from "../runtime/errors.js";
import type { IsAliveResponse } from "../runtime/protocol.js";
import type { IsAliveOptions, Runtime } from "../runtime/runtime.js";
import { BaseDeployment, type StartOptions } from "./deployment.js";
import { registerDeployment, unregisterDeployment } from "./registry.js";

/** What every start records; subclasses add what they create. */
export interface DeploymentRun {
  controller: AbortController;
  /** Set once the runtime exists (isAlive answers through it). */
  runtime?: Runtime;
  starting?: Promise<void>;
  cleanup?: Promise<void>;
}

export abstract class RunLifecycleDeployment<R extends DeploymentRun> extends BaseDeployment {
  /** The current start's record; undefined before start and after stop. */
  protected run: R | undefined;

  /** Whether started instances join the process-wide registry (a service that owns its own clean-up: no). */
  protected abstract readonly register: boolean;
  /** A fresh record for one start. */
  protected abstract newRun(): R;
  /** Does the start; `signal` aborts on `stop()` and on the caller's signal. */
  protected abstract startRun(run: R, signal: AbortSignal): Promise<void>;
  /** Undoes what `run` created; must not throw. */
  protected abstract doCleanup(run: R): Promise<void>;

  async start(opts: StartOptions = {}): Promise<void> {
    if (this.run) throw new DeploymentStartupError("Deployment already started; stop() it first");
    const run = this.newRun();
    this.run = run;
    if (this.register) registerDeployment(this);
    const signal = opts.signal
      ? AbortSignal.any([opts.signal, run.controller.signal])
      : run.controller.signal;
    run.starting = this.startRun(run, signal);
    try {
      await run.starting;
    } catch (err) {
      await this.cleanupRun(run);
      if (this.run === run) this.run = undefined;
      if (!this.run) unregisterDeployment(this);
      throw err;
    }
  }

  async isAlive(opts: IsAliveOptions = {}): Promise<IsAliveResponse> {
    const runtime = this.run?.runtime;
    if (!runtime) return { is_alive: false, message: "Runtime not started" };
    return runtime.isAlive(opts);
  }

  /** Idempotent: aborts a start in progress, then undoes what the start created. */
  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.controller.abort(new DeploymentStartupError("Deployment stopped while starting"));
    await run.starting?.catch(() => {});
    await this.cleanupRun(run);
    if (this.run === run) this.run = undefined;
    this._runtime = undefined;
    unregisterDeployment(this);
  }

  private cleanupRun(run: R): Promise<void> {
    run.cleanup ??= this.doCleanup(run);
    return run.cleanup;
  }
}
