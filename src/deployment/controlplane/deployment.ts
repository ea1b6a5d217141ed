/**
 * ControlPlaneDeployment: a sandbox asked of a running `swerex serve`, behind the same `Deployment` interface
 * as the others, so `swerex run`, `run-batch` and library code deploy through the service unchanged.
 *
 * - start = `POST /v1/sandboxes` (`wait: false`, one `Idempotency-Key` per start, the same on every retry, so
 *   a retried create never makes two), then `GET` until the sandbox is running. A full service (429) is
 *   asked again after its `Retry-After`, within `startup_timeout`.
 * - runtime = a `RemoteRuntime` on the sandbox's pass-through `{url}/v1/sandboxes/{id}/runtime`, sending the
 *   API key as `X-API-Key` (what SWE-ReX's Python client sends too).
 * - While started, the lease is renewed every `lease_renewal` seconds, so a long run is not reaped; a
 *   client that dies stops renewing and the service reaps its sandboxes.
 * - stop = `DELETE`, idempotent; a 404 (the sandbox is already gone) is success. A failed or aborted start
 *   deletes what it created, even when the abort came while the create request was in flight (the same
 *   `Idempotency-Key` then names the sandbox). The process-wide registry stops it on SIGINT/SIGTERM.
 * - The API key never appears in a status line, error or log.
 */
import { randomUUID } from "node:crypto";
import type { Dispatcher } from "undici";
import { ConfigError } from "../../config/index.js";
import { DeploymentStartupError, PythonTimeoutError } from "../../runtime/errors.js";
import { RemoteRuntime } from "../../runtime/remote.js";
import { sleep } from "../../runtime/sleep.js";
import { type DeploymentRun, RunLifecycleDeployment } from "../run-lifecycle.js";
import {
  ControlPlaneApiError,
  ControlPlaneClient,
  type CreateSandboxRequest,
  type SandboxResource,
  toEpochMs,
} from "./client.js";
import {
  ControlPlaneDeploymentConfig,
  type ControlPlaneDeploymentConfigInput,
  resolveControlPlaneEndpoint,
} from "./config.js";

/**
 * Polling while the service starts the sandbox: the pause grows with the time already waited (a tenth of
 * it), so a 1 s docker start is seen within ~25 ms of being ready and a 3 min AGS start costs few requests.
 */
const POLL_MIN_MS = 25;
const POLL_MAX_MS = 1000;
const POLL_FRACTION = 0.1;
/** Learning the id of a sandbox whose create was aborted in flight, and deleting it, may take this long. */
const ABORT_CLEANUP_TIMEOUT_MS = 30_000;
/** A 429 without `Retry-After` is asked again after this long. */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** Renewal never runs more often than this, whatever the lease (a tiny ttl must not become a busy loop). */
const MIN_RENEWAL_MS = 500;
/** States a starting sandbox can still leave for `running`. */
const STARTING_STATES = new Set(["queued", "starting"]);

export interface ControlPlaneDeploymentOptions {
  /** Environment for SWEREX_URL / SWEREX_API_KEY; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Connection pool for the control API calls (not the runtime's); stays the caller's to close. */
  dispatcher?: Dispatcher;
}

/** Everything one start() created, so stop() (or a failed start) undoes exactly that. */
interface Run extends DeploymentRun {
  idempotencyKey: string;
  /** Set as soon as the service named the sandbox. */
  id?: string;
  /** True while the create request may have reached the service without its answer reaching us. */
  createInFlight: boolean;
  runtime?: RemoteRuntime;
  renewal?: { timer?: NodeJS.Timeout; stopped: boolean };
}

export class ControlPlaneDeployment extends RunLifecycleDeployment<Run> {
  /** Every client process's Ctrl-C deletes its sandboxes (the registry). */
  protected readonly register = true;
  readonly config: ControlPlaneDeploymentConfig;
  private readonly client: ControlPlaneClient;
  private readonly apiKey: string;
  private last: SandboxResource | undefined;

  constructor(
    config: ControlPlaneDeploymentConfigInput | ControlPlaneDeploymentConfig = {},
    opts: ControlPlaneDeploymentOptions = {},
  ) {
    super();
    this.config = ControlPlaneDeploymentConfig.parse(config);
    const { url, apiKey } = resolveControlPlaneEndpoint(this.config, opts.env);
    if (url === "") {
      throw new ConfigError([
        { where: "url", message: 'required for deployment type "controlplane" (or set SWEREX_URL)' },
      ]);
    }
    this.apiKey = apiKey;
    this.client = new ControlPlaneClient({
      url,
      apiKey,
      timeoutMs: this.config.request_timeout * 1000,
      dispatcher: opts.dispatcher,
    });
  }

  static fromConfig(config: ControlPlaneDeploymentConfigInput): ControlPlaneDeployment {
    return new ControlPlaneDeployment(config);
  }

  /** The sandbox id while started (`sbx-...`). */
  get sandboxId(): string | undefined {
    return this.run?.id;
  }

  /** The sandbox as the service last described it (after start, a lease renewal or stop). */
  get sandbox(): SandboxResource | undefined {
    return this.last;
  }

  protected newRun(): Run {
    return { controller: new AbortController(), idempotencyKey: randomUUID(), createInFlight: false };
  }

  protected async startRun(run: Run, signal: AbortSignal): Promise<void> {
    const timeoutMs = this.config.startup_timeout * 1000;
    const deadline = Date.now() + timeoutMs;
    const timedOut = AbortSignal.timeout(timeoutMs);
    const both = AbortSignal.any([signal, timedOut]);
    const timeoutError = (state: string) =>
      new PythonTimeoutError(
        `Sandbox ${run.id ?? "(not created)"} did not reach running within ${this.config.startup_timeout}s ` +
          `(last state: ${state}) at ${this.client.url}`,
      );

    this.status("Creating sandbox");
    let sandbox: SandboxResource;
    try {
      sandbox = await this.create(run, both, deadline);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (timedOut.aborted) throw timeoutError("creating");
      throw err;
    }
    this.status("Waiting for sandbox");
    const since = Date.now();
    while (STARTING_STATES.has(sandbox.state)) {
      const waited = Date.now() - since;
      try {
        await sleep(Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, waited * POLL_FRACTION)), both);
        sandbox = await this.client.get(sandbox.id, { signal: both });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (timedOut.aborted) throw timeoutError(sandbox.state);
        throw err;
      }
    }
    this.last = sandbox;
    if (sandbox.state !== "running") {
      const why = sandbox.error ? `: ${sandbox.error.class}: ${sandbox.error.message}` : "";
      throw new DeploymentStartupError(`Sandbox ${sandbox.id} is ${sandbox.state}, not running${why}`, {
        extraInfo: { sandbox_id: sandbox.id, state: sandbox.state },
      });
    }
    run.runtime = new RemoteRuntime({
      host: this.client.runtimeUrl(sandbox.id),
      auth_token: this.apiKey,
      timeout: this.config.runtime_timeout,
      request_timeout: this.config.runtime_timeout,
    });
    this._runtime = run.runtime;
    this.startRenewal(run, sandbox);
    this.status("Sandbox running");
  }

  /** `POST /v1/sandboxes`, asked again after `Retry-After` while the service is full (429). */
  private async create(run: Run, signal: AbortSignal, deadline: number): Promise<SandboxResource> {
    const body = this.createBody();
    for (;;) {
      run.createInFlight = true;
      try {
        const { sandbox } = await this.client.create(body, { idempotencyKey: run.idempotencyKey, signal });
        run.id = sandbox.id;
        run.createInFlight = false;
        return sandbox;
      } catch (err) {
        if (signal.aborted) throw err;
        // An HTTP answer means the service decided: nothing was created behind our back.
        if (err instanceof ControlPlaneApiError) run.createInFlight = false;
        if (!(err instanceof ControlPlaneApiError) || err.status !== 429) throw err;
        const wait = err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
        if (Date.now() + wait > deadline) throw err;
        this.status(`Service is full (${err.detail}); asking again in ${Math.ceil(wait / 1000)}s`);
        await sleep(wait, signal);
      }
    }
  }

  /** The create request; the same on every attempt of one start (the service hashes it with the key). */
  private createBody(): CreateSandboxRequest {
    return {
      deployment: this.config.deployment,
      metadata: this.config.metadata,
      wait: false,
      ...(this.config.ttl !== null ? { ttl: this.config.ttl } : {}),
    };
  }

  /** Renews the lease every `lease_renewal` seconds (default: a third of the lease) until stop(). */
  private startRenewal(run: Run, sandbox: SandboxResource): void {
    if (this.config.lease_renewal === 0) return;
    const expiresAt = toEpochMs(sandbox.expires_at);
    // The lease to ask for: the configured ttl, else the length the service gave this sandbox.
    const ttl =
      this.config.ttl ?? (expiresAt === undefined ? undefined : Math.ceil((expiresAt - Date.now()) / 1000));
    if (ttl === undefined || ttl <= 0) return;
    const everyMs = Math.max(MIN_RENEWAL_MS, (this.config.lease_renewal ?? ttl / 3) * 1000);
    const renewal: NonNullable<Run["renewal"]> = { stopped: false };
    run.renewal = renewal;
    const tick = async () => {
      if (renewal.stopped || !run.id) return;
      try {
        this.last = await this.client.renewLease(run.id, ttl, { signal: run.controller.signal });
      } catch (err) {
        if (renewal.stopped) return;
        if (err instanceof ControlPlaneApiError && (err.status === 404 || err.status === 409)) {
          // Gone (deleted, reaped or lost): nothing left to renew; the runtime's errors will say so.
          this.status(`Lease renewal stopped: ${err.message}`);
          return;
        }
        this.status(`Lease renewal failed (will retry): ${(err as Error).message}`);
      }
      if (!renewal.stopped) schedule();
    };
    const schedule = () => {
      renewal.timer = setTimeout(() => void tick(), everyMs);
      // Renewal alone must not keep a process alive that has nothing else to do.
      renewal.timer.unref();
    };
    schedule();
  }

  /** Stops renewing, then deletes the sandbox (a 404, already gone, counts as done). */
  protected async doCleanup(run: Run): Promise<void> {
    if (run.renewal) {
      run.renewal.stopped = true;
      clearTimeout(run.renewal.timer);
    }
    if (this._runtime === run.runtime) this._runtime = undefined;
    await run.runtime?.dispose().catch(() => undefined);
    const signal = AbortSignal.timeout(ABORT_CLEANUP_TIMEOUT_MS);
    if (!run.id && run.createInFlight) {
      // The create was cut off mid-flight: the service may have made the sandbox. The same key and body
      // name it (or make it now, to be deleted at once), so nothing outlives the aborted start.
      run.id = await this.client
        .create(this.createBody(), { idempotencyKey: run.idempotencyKey, signal })
        .then(
          (r) => r.sandbox.id,
          () => undefined,
        );
    }
    if (!run.id) return;
    try {
      this.last = await this.client.delete(run.id, { signal });
    } catch (err) {
      if (err instanceof ControlPlaneApiError && err.status === 404) return;
      this.status(`Could not delete sandbox ${run.id}: ${(err as Error).message} (its lease will expire)`);
    }
  }
}
