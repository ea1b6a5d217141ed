/**
 * TencentAGSDeployment: one swerex-remote sandbox on Tencent Cloud Agent Sandbox. start() = the tool (given
 * or found/created per configuration), StartSandboxInstance, RUNNING, token, runtime alive; all within
 * `startup_timeout`. stop() always stops the instance.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import { ConfigError } from "../../config/index.js";
import {
  DeploymentNotStartedError,
  DeploymentStartupError,
  type IsAliveOptions,
  type IsAliveResponse,
  sleep,
  waitUntilAlive,
} from "../../runtime/index.js";
import { BaseDeployment, type StartOptions } from "../deployment.js";
import { ownerLabels } from "../owner.js";
import { registerDeployment, unregisterDeployment } from "../registry.js";
import { type AgsClient, sharedAgsClient } from "./client.js";
import {
  type AgsCredentials,
  credentialOverrideMessages,
  resolveAgsCredentials,
  TencentAGSDeploymentConfig,
  type TencentAGSDeploymentConfigInput,
} from "./config.js";
import { AgsQuotaError, AgsRequestError, AgsTimeoutError, isCapacityOrQuotaError } from "./errors.js";
import { GatewayCheck } from "./gateway-check.js";
import { describeInstance, instancePoller, stopInstance } from "./instances.js";
import { agsLogger } from "./log.js";
import type { AgsPacer } from "./rate-limit.js";
import { type AgsRuntimeFactory, defaultAgsRuntimeFactory } from "./runtime-factory.js";
import { InstanceTokenProvider } from "./token.js";
import {
  DEPLOYMENT_KEY,
  instanceOverride,
  keptToolOverride,
  metadataValue,
  mountOptions,
  needsRoleArn,
  toolRequest,
} from "./tool-spec.js";
import { ensureTool, forgetTool, verifyTool } from "./tools.js";
import type { MetadataVar, SandboxTool, StartSandboxInstanceRequest } from "./types.js";

export interface TencentAGSDeploymentOptions {
  logger?: Logger;
  /** A ready client (tests, benchmarks); default: the process-wide client for these credentials. */
  client?: AgsClient;
  /** Paces the default client's calls instead of its per-process buckets (the control plane's store). */
  pacer?: AgsPacer;
  /** undici dispatcher for the data plane, e.g. the emulator's `dispatcher()`. */
  dispatcher?: Dispatcher;
  /** Environment for the credential variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Control-plane status polling interval (tool and instance states). */
  pollIntervalMs?: number;
  /** Builds the runtime once the instance is RUNNING (a seam for unit tests). */
  runtimeFactory?: AgsRuntimeFactory;
  /**
   * Metadata naming the instance's owner; default: this process (`ownerLabels()`, for `swerex ags gc`).
   * The control plane passes `serviceLabels(...)`: its instances outlive its process.
   */
  ownerMetadata?: Record<string, string>;
  /** Whether SIGINT/SIGTERM of this process stop the instance (../registry.ts). Default true. */
  register?: boolean;
  /** How long the gateway may answer 404 for a RUNNING instance before the start fails (default 5 s). */
  gatewayNotFoundGraceMs?: number;
}

/** Bounded cleanup of an instance a failed or aborted start left behind. */
const CLEANUP_TIMEOUT_MS = 60_000;
const RUNTIME_CLOSE_TIMEOUT_MS = 5_000;
/**
 * Backoff between starts refused for quota (`LimitExceeded.*`) or capacity (`ResourceInsufficient*`): other
 * sandboxes end and free their share, so waiting inside `startup_timeout` often succeeds. Starts at 1 s,
 * doubles, at most 15 s between tries.
 */
const QUOTA_RETRY_BASE_MS = 1_000;
const QUOTA_RETRY_MAX_MS = 15_000;

export class TencentAGSDeployment extends BaseDeployment {
  readonly config: TencentAGSDeploymentConfig;
  /** Written into the instance's Metadata; finds an instance whose start was cut off mid-request. */
  readonly deploymentId = randomUUID();
  private readonly log: Logger;
  private readonly credentials: AgsCredentials;
  private clientInstance: AgsClient | undefined;
  private _instanceId: string | undefined;
  private _toolId: string | undefined;
  /** The user's tool (`tool_id`) as last verified: its mount shapes the per-instance command. */
  private userTool: SandboxTool | undefined;
  private token: InstanceTokenProvider | undefined;
  private starting: Promise<void> | undefined;
  private startAbort: AbortController | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    config: TencentAGSDeploymentConfigInput = {},
    private readonly opts: TencentAGSDeploymentOptions = {},
  ) {
    super();
    this.config = TencentAGSDeploymentConfig.parse(config);
    const creds = resolveAgsCredentials(this.config, opts.env);
    this.credentials = creds;
    this.log = (opts.logger ?? agsLogger()).child({
      component: "ags-deployment",
      deployment: this.deploymentId,
    });
    for (const line of credentialOverrideMessages(creds)) this.log.warn(line);
    // The API refuses such a tool (MissingParameter.RoleArn); say so before any call, naming the key.
    if (!this.config.tool_id && needsRoleArn(this.config) && !creds.roleArn) {
      throw new ConfigError([
        {
          where: "role_arn (or TENCENTCLOUD_ROLE_ARN)",
          message:
            "required for image and COS mounts (mount_image, mounts): AGS reads them with this CAM role",
        },
      ]);
    }
  }

  static fromConfig(config: TencentAGSDeploymentConfigInput, opts?: TencentAGSDeploymentOptions) {
    return new TencentAGSDeployment(config, opts);
  }

  get instanceId(): string | undefined {
    return this._instanceId;
  }

  get toolId(): string | undefined {
    return this._toolId;
  }

  /** The control-plane client (created on first use, so construction needs no credentials). */
  get client(): AgsClient {
    if (!this.clientInstance) {
      if (!this.credentials.secretId || !this.credentials.secretKey) {
        throw new DeploymentStartupError(
          "AGS credentials missing: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (or secret_id/secret_key)",
        );
      }
      this.clientInstance =
        this.opts.client ??
        sharedAgsClient({
          secretId: this.credentials.secretId,
          secretKey: this.credentials.secretKey,
          sessionToken: this.credentials.sessionToken || undefined,
          region: this.config.region,
          endpoint: this.config.http_endpoint,
          skipSslVerify: this.config.skip_ssl_verify,
          rateLimit: this.config.api_rate_limit,
          logger: this.opts.logger,
          ...(this.opts.pacer ? { pacer: this.opts.pacer } : {}),
        });
    }
    return this.clientInstance;
  }

  /** `https://{port}-{InstanceId}.{domain}` (spec/ags.md 3.1). */
  endpointFor(instanceId: string): string {
    return `https://${this.config.port}-${instanceId}.${this.config.domain}`;
  }

  async start(opts: StartOptions = {}): Promise<void> {
    if (this._runtime) {
      this.log.warn("start() called on a running deployment; ignoring");
      return;
    }
    if (this.stopping) await this.stopping;
    void this.client; // missing credentials fail here, before anything is registered or sent
    // Tracked from the first request on, so a SIGINT during start also stops what it created.
    if (this.opts.register !== false) registerDeployment(this);
    this.starting ??= this.doStart(opts).finally(() => {
      this.starting = undefined;
      this.startAbort = undefined;
    });
    return this.starting;
  }

  private async doStart(opts: StartOptions): Promise<void> {
    const startedAt = Date.now();
    const timeoutMs = this.config.startup_timeout * 1000;
    this.startAbort = new AbortController();
    const deadline = AbortSignal.timeout(timeoutMs);
    const signals = [deadline, this.startAbort.signal, ...(opts.signal ? [opts.signal] : [])];
    const signal = AbortSignal.any(signals);
    const client = this.client;
    let startInFlight = false;
    try {
      this.status("Preparing sandbox tool");
      const toolId = await this.resolveTool(client, signal);
      this._toolId = toolId;

      this.status("Starting sandbox instance");
      startInFlight = true;
      const instance = await this.startInstance(client, toolId, signal);
      startInFlight = false;
      this._instanceId = instance.InstanceId;
      this.log.info({ instanceId: instance.InstanceId, toolId }, "sandbox instance started");
      if (instance.Status !== "RUNNING") {
        await instancePoller(client, this.log, this.opts.pollIntervalMs).waitFor(
          instance.InstanceId,
          ["RUNNING"],
          {
            signal,
            dead: ["STOPPING", "STOPPED"],
          },
        );
      }

      this.status("Acquiring access token");
      const token = new InstanceTokenProvider(client, instance.InstanceId);
      await token.get(signal);
      this.token = token;

      this.status("Connecting to runtime");
      const runtime = this.connect(instance.InstanceId);
      const gateway = new GatewayCheck({
        url: this.endpointFor(instance.InstanceId),
        domain: this.config.domain,
        region: this.config.region,
        graceMs: this.opts.gatewayNotFoundGraceMs,
      });
      const probe = async (ms: number) => {
        const res = await runtime.isAlive({ timeoutMs: ms });
        if (!res.is_alive) gateway.observe(res.message);
        return res;
      };
      await waitUntilAlive(probe, {
        signal,
        timeoutMs: Math.max(0, timeoutMs - (Date.now() - startedAt)),
        functionTimeoutMs: this.config.runtime_timeout * 1000,
      });
      this.log.info(
        { instanceId: instance.InstanceId, ms: Date.now() - startedAt },
        "sandbox runtime is alive",
      );
      this.status("Runtime is alive");
    } catch (err) {
      await this.cleanupFailedStart(client, startInFlight);
      if (deadline.aborted && !(err instanceof AgsQuotaError)) {
        throw new AgsTimeoutError(
          `AGS deployment did not become alive within ${this.config.startup_timeout}s: ${errMessage(err)}`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** The runtime of a RUNNING instance (its token provider must be set). */
  private connect(instanceId: string) {
    const factory = this.opts.runtimeFactory ?? defaultAgsRuntimeFactory;
    const runtime = factory({
      url: this.endpointFor(instanceId),
      tokens: this.token as InstanceTokenProvider,
      timeoutSec: this.config.runtime_timeout,
      dispatcher: this.opts.dispatcher,
      gatewayAddress: this.config.gateway_address,
      domain: this.config.domain,
      skipSslVerify: this.config.skip_ssl_verify,
      logger: this.log,
    });
    this._runtime = runtime;
    return runtime;
  }

  /**
   * Takes over an instance another process (or an earlier life of the control plane) started: after this,
   * the deployment is as if `start()` had started it (runtime, token, pause/resume, stop).
   */
  adopt(instanceId: string): void {
    if (this._instanceId) throw new DeploymentStartupError("Deployment already has an instance");
    this._instanceId = instanceId;
    this.token = new InstanceTokenProvider(this.client, instanceId);
    this.connect(instanceId);
    if (this.opts.register !== false) registerDeployment(this);
  }

  /** The instance's current access token (`X-Access-Token`), refreshed before it expires. */
  accessToken(signal?: AbortSignal): Promise<string> {
    this.requireInstance();
    return (this.token as InstanceTokenProvider).get(signal);
  }

  private async resolveTool(client: AgsClient, signal: AbortSignal): Promise<string> {
    const pollIntervalMs = this.opts.pollIntervalMs;
    if (this.config.tool_id) {
      this.userTool = await verifyTool(client, this.config.tool_id, { signal, pollIntervalMs });
      this.checkMountOptions(this.userTool);
      return this.userTool.ToolId;
    }
    return ensureTool(client, toolRequest(this.config, this.credentials.roleArn), this.log, {
      signal,
      pollIntervalMs,
    });
  }

  /**
   * The StartSandboxInstance body; with a user's `tool_id` the image (and command) ride along per instance.
   * Metadata names the owner process (for `swerex ags gc`) and this deployment.
   */
  startRequest(toolId: string): StartSandboxInstanceRequest {
    const metadata: MetadataVar[] = [
      ...Object.entries(this.opts.ownerMetadata ?? ownerLabels()).map(([Name, Value]) => ({ Name, Value })),
      { Name: DEPLOYMENT_KEY, Value: this.deploymentId },
    ];
    const override = !this.config.tool_id
      ? undefined
      : this.config.tool_command === "keep"
        ? keptToolOverride(this.config)
        : instanceOverride(this.config, this.userTool);
    return {
      ToolId: toolId,
      Timeout: this.config.timeout,
      ClientToken: randomUUID(),
      Metadata: metadata,
      MountOptions: mountOptions(this.config, this.deploymentId),
      ...(override ? { CustomConfiguration: override } : {}),
    };
  }

  /** `mount_options` against a user's tool: each must name one of its mounts, and may only tighten read-only. */
  private checkMountOptions(tool: SandboxTool): void {
    const mounts = new Map((tool.StorageMounts ?? []).map((m) => [m.Name, m]));
    const issues = this.config.mount_options.flatMap((o, i) => {
      const m = mounts.get(o.name);
      if (!m) {
        const names = [...mounts.keys()].join(", ") || "(none)";
        return [
          {
            where: `mount_options.${i}.name`,
            message: `tool ${tool.ToolId} has no mount ${JSON.stringify(o.name)}; its mounts: ${names}`,
          },
        ];
      }
      if (m.ReadOnly && o.read_only === false) {
        return [
          {
            where: `mount_options.${i}.read_only`,
            message: `can only tighten: mount ${JSON.stringify(o.name)} of tool ${tool.ToolId} is read-only`,
          },
        ];
      }
      return [];
    });
    if (issues.length > 0) throw new ConfigError(issues);
  }

  private async startInstance(client: AgsClient, toolId: string, signal: AbortSignal) {
    const req = this.startRequest(toolId);
    try {
      return await this.callStart(client, req, signal);
    } catch (err) {
      // Our cached tool was deleted (e.g. by `swerex ags gc` elsewhere): find or create it again, once.
      const toolGone =
        err instanceof AgsRequestError &&
        (err.is("ResourceNotFound.SandboxTool") || err.is("ResourceUnavailable"));
      if (this.config.tool_id || !toolGone) throw err;
      forgetTool(client, toolRequest(this.config, this.credentials.roleArn).ToolName);
      const newToolId = await this.resolveTool(client, signal);
      this._toolId = newToolId;
      return await this.callStart(client, { ...req, ToolId: newToolId, ClientToken: randomUUID() }, signal);
    }
  }

  /**
   * StartSandboxInstance; a refusal for quota or capacity is tried again with backoff until the start's
   * deadline, then fails with an error that names the quota.
   */
  private async callStart(client: AgsClient, req: StartSandboxInstanceRequest, signal: AbortSignal) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callStartOnce(
          client,
          attempt === 0 ? req : { ...req, ClientToken: randomUUID() },
          signal,
        );
      } catch (err) {
        if (!isCapacityOrQuotaError(err)) throw err;
        const delay = Math.min(QUOTA_RETRY_MAX_MS, QUOTA_RETRY_BASE_MS * 2 ** attempt);
        this.log.warn(
          { code: err.code, attempt, retryInMs: delay },
          "AGS refused the start for quota or capacity; waiting",
        );
        this.status(
          `Waiting for AGS ${err.code.startsWith("LimitExceeded") ? "quota" : "capacity"} (${err.code})`,
        );
        try {
          await sleep(delay, signal);
        } catch {
          throw new AgsQuotaError(err, attempt + 1, this.config.startup_timeout);
        }
      }
    }
  }

  private async callStartOnce(client: AgsClient, req: StartSandboxInstanceRequest, signal: AbortSignal) {
    const res = await client.call("StartSandboxInstance", req, { signal });
    if (!res.Instance?.InstanceId) {
      throw new DeploymentStartupError(
        `StartSandboxInstance returned no instance (RequestId ${res.RequestId ?? ""})`,
      );
    }
    return res.Instance;
  }

  /**
   * Stops what a failed start created. If the start request itself was cut off, the instance may exist
   * without us knowing its id: it is found by this deployment's id in its Metadata.
   */
  private async cleanupFailedStart(client: AgsClient, startInFlight: boolean): Promise<void> {
    const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
    await this.closeRuntime();
    try {
      if (!this._instanceId && startInFlight && this._toolId) {
        this._instanceId = await this.findOwnInstance(client, this._toolId, signal);
      }
      if (this._instanceId) {
        await stopInstance(client, this._instanceId, signal);
        this.log.info({ instanceId: this._instanceId }, "stopped instance of failed start");
      }
      this.clearState();
    } catch (err) {
      // Keep the id: a later stop() tries again, and `swerex ags gc` finds it by its Metadata.
      this.log.error(
        { instanceId: this._instanceId, err: errMessage(err) },
        "could not stop instance of failed start",
      );
    }
  }

  private async findOwnInstance(client: AgsClient, toolId: string, signal: AbortSignal) {
    for (let offset = 0; ; offset += 100) {
      const res = await client.call(
        "DescribeSandboxInstanceList",
        { ToolId: toolId, Offset: offset, Limit: 100 },
        { signal },
      );
      const set = res.InstanceSet ?? [];
      const own = set.find((i) => metadataValue(i.Metadata, DEPLOYMENT_KEY) === this.deploymentId);
      if (own) return own.InstanceId;
      if (set.length < 100) return undefined;
    }
  }

  async isAlive(opts: IsAliveOptions = {}): Promise<IsAliveResponse> {
    const runtime = this._runtime;
    const instanceId = this._instanceId;
    if (!runtime || !instanceId) throw new DeploymentNotStartedError();
    const res = await runtime.isAlive(opts);
    if (res.is_alive) return res;
    // Say why, when the control plane knows (expired, stopped, paused).
    try {
      const inst = await describeInstance(
        this.client,
        instanceId,
        AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      );
      if (inst && inst.Status !== "RUNNING") {
        const reason = inst.StopReason ? ` (StopReason ${inst.StopReason})` : "";
        return { is_alive: false, message: `SandboxInstance ${instanceId} is ${inst.Status}${reason}` };
      }
    } catch {
      // The runtime's own answer stands.
    }
    return res;
  }

  /** Idempotent. Closes the runtime if it answers, then stops the instance whatever the runtime's state. */
  async stop(): Promise<void> {
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.starting) {
      this.startAbort?.abort(new DeploymentStartupError("deployment stopped during start"));
      await this.starting.catch(() => undefined);
    }
    await this.closeRuntime();
    const instanceId = this._instanceId;
    if (!instanceId) {
      this.clearState();
      return;
    }
    this.status("Stopping sandbox instance");
    const stopped = await stopInstance(this.client, instanceId, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
    this.log.info({ instanceId, alreadyStopped: !stopped }, "sandbox instance stopped");
    this.clearState();
  }

  /**
   * Closes the runtime before its instance is stopped. Its POST /close needs the instance's token: a
   * deployment that never held one (it adopted the instance only to stop it) does not spend an
   * AcquireSandboxInstanceToken call, shared by the account, on a runtime that is about to go anyway; it
   * only lets go of its own connections.
   */
  private async closeRuntime(): Promise<void> {
    const runtime = this._runtime;
    this._runtime = undefined;
    if (!runtime) return;
    if (this.token && !this.token.held) {
      if (hasDispose(runtime)) await runtime.dispose().catch(() => undefined);
      return;
    }
    try {
      await Promise.race([
        runtime.close(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error("close timed out")), RUNTIME_CLOSE_TIMEOUT_MS).unref(),
        ),
      ]);
    } catch (err) {
      this.log.debug({ err: errMessage(err) }, "runtime close failed (the instance is stopped anyway)");
    }
  }

  /** Forgets the instance: nothing is left to stop, so the process registry lets go too. */
  private clearState(): void {
    this._runtime = undefined;
    this._instanceId = undefined;
    this.token = undefined;
    unregisterDeployment(this);
  }

  private requireInstance(): string {
    if (!this._instanceId || !this._runtime) throw new DeploymentNotStartedError();
    return this._instanceId;
  }

  /** Pauses the instance (memory kept) and waits until it is PAUSED. */
  async pause(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const instanceId = this.requireInstance();
    const signal = opts.signal ?? AbortSignal.timeout(this.config.startup_timeout * 1000);
    const res = await this.client.call("PauseSandboxInstance", { InstanceId: instanceId }, { signal });
    if (res.InstanceStatus !== "PAUSED") {
      await instancePoller(this.client, this.log, this.opts.pollIntervalMs).waitFor(instanceId, ["PAUSED"], {
        signal,
        dead: ["STOPPING", "STOPPED"],
      });
    }
    this.status("Sandbox paused");
  }

  /** Resumes a paused instance, takes a fresh token, and waits until the runtime answers again. */
  async resume(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const instanceId = this.requireInstance();
    const runtime = this.runtime;
    const signal = opts.signal ?? AbortSignal.timeout(this.config.startup_timeout * 1000);
    await this.client.call(
      "ResumeSandboxInstance",
      { InstanceId: instanceId, Timeout: this.config.timeout },
      { signal },
    );
    await instancePoller(this.client, this.log, this.opts.pollIntervalMs).waitFor(instanceId, ["RUNNING"], {
      signal,
      dead: ["STOPPING", "STOPPED"],
    });
    this.token?.invalidate();
    await this.token?.get(signal);
    await waitUntilAlive((ms) => runtime.isAlive({ timeoutMs: ms }), {
      signal,
      timeoutMs: this.config.startup_timeout * 1000,
      functionTimeoutMs: this.config.runtime_timeout * 1000,
    });
    this.status("Sandbox resumed");
  }

  /** Restarts the instance's lifetime clock at `timeout` from now (UpdateSandboxInstance). */
  async extendTimeout(
    timeout: string = this.config.timeout,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const instanceId = this.requireInstance();
    await this.client.call(
      "UpdateSandboxInstance",
      { InstanceId: instanceId, Timeout: timeout },
      { signal: opts.signal ?? AbortSignal.timeout(60_000) },
    );
  }
}

function hasDispose(runtime: object): runtime is { dispose(): Promise<void> } {
  return typeof (runtime as { dispose?: unknown }).dispose === "function";
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
