/**
 * The `tencentags` backend: `TencentAGSDeployment` starts the instance (its Metadata names this service and
 * the sandbox instead of an owner pid; not in the process-wide signal registry); the handle keeps the
 * instance id and the config without secrets. A restarted service adopts the instance with the same
 * deployment class (`adopt`), credentials coming from the environment or the service's default config.
 * The pass-through adds the instance's access token (`X-Access-Token`, refreshed before it expires).
 * Pause and resume are AGS's own.
 */
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import { describeInstance } from "../../deployment/ags/instances.js";
import type { AgsPacer } from "../../deployment/ags/rate-limit.js";
import { dataPlaneDispatcher } from "../../deployment/ags/runtime-factory.js";
import {
  type DeploymentConfig,
  parseDeploymentConfig,
  serviceLabels,
  TencentAGSDeployment,
} from "../../deployment/index.js";
import type { Json } from "../../store/types.js";
import { withoutSecrets } from "../secrets.js";
import {
  type BackendAdapter,
  type BackendResource,
  handleString,
  type ProbeResult,
  type RuntimeTarget,
  type StartContext,
} from "./types.js";

const DESCRIBE_TIMEOUT_MS = 30_000;

export interface TencentAgsBackendOptions {
  serviceId: string;
  logger: Logger;
  /** Credentials (`secret_id`, `secret_key`) of the service's default config, for adopted instances. */
  credentials?: { secret_id?: string; secret_key?: string };
  /** Paces AGS API calls across replicas (the store's shared bucket); default: per process. */
  pacer?: AgsPacer;
}

type AgsConfig = Extract<DeploymentConfig, { type: "tencentags" }>;

export class TencentAgsBackend implements BackendAdapter {
  readonly type = "tencentags";
  readonly canPause = true;
  /** One deployment per instance, started here or adopted from a handle. */
  private readonly live = new Map<string, TencentAGSDeployment>();
  private readonly dispatchers = new Map<string, Dispatcher | undefined>();

  constructor(private readonly opts: TencentAgsBackendOptions) {}

  private deploymentOptions(sandboxId: string) {
    return {
      logger: this.opts.logger.child({ sandbox: sandboxId }),
      register: false,
      ownerMetadata: serviceLabels(this.opts.serviceId, sandboxId),
      ...(this.opts.pacer ? { pacer: this.opts.pacer } : {}),
    };
  }

  async start(config: DeploymentConfig, ctx: StartContext): Promise<Json> {
    if (config.type !== "tencentags") throw new Error(`tencentags backend got a ${config.type} config`);
    const d = new TencentAGSDeployment(config, this.deploymentOptions(ctx.sandboxId));
    await d.start({ signal: ctx.signal });
    const id = d.instanceId;
    if (!id) throw new Error("the AGS deployment started without an instance");
    this.live.set(id, d);
    return { instance_id: id, sandbox_id: ctx.sandboxId, config: withoutSecrets(config) };
  }

  /** The deployment of a handle: the live one, or a new one adopting the instance. */
  private deployment(handle: Json): TencentAGSDeployment {
    const id = handleString(handle, "instance_id");
    let d = this.live.get(id);
    if (!d) {
      const stored = (handle as { config?: Record<string, unknown> }).config ?? {};
      const config = parseDeploymentConfig({ ...this.opts.credentials, ...stored }) as AgsConfig;
      d = new TencentAGSDeployment(config, this.deploymentOptions(handleString(handle, "sandbox_id")));
      d.adopt(id);
      this.live.set(id, d);
    }
    return d;
  }

  /** The data-plane connection the config asks for (one per distinct setting, shared by its sandboxes). */
  private dispatcherFor(config: AgsConfig): Dispatcher | undefined {
    const key = `${config.gateway_address}\n${config.domain}\n${config.skip_ssl_verify}`;
    if (!this.dispatchers.has(key)) {
      this.dispatchers.set(
        key,
        dataPlaneDispatcher({
          gatewayAddress: config.gateway_address,
          domain: config.domain,
          skipSslVerify: config.skip_ssl_verify,
        }),
      );
    }
    return this.dispatchers.get(key);
  }

  async target(handle: Json, signal?: AbortSignal): Promise<RuntimeTarget> {
    const d = this.deployment(handle);
    const id = handleString(handle, "instance_id");
    const dispatcher = this.dispatcherFor(d.config);
    return {
      url: d.endpointFor(id),
      headers: { "x-access-token": await d.accessToken(signal) },
      ...(dispatcher ? { dispatcher } : {}),
    };
  }

  async probe(handle: Json): Promise<ProbeResult> {
    const d = this.deployment(handle);
    try {
      const inst = await describeInstance(
        d.client,
        handleString(handle, "instance_id"),
        AbortSignal.timeout(DESCRIBE_TIMEOUT_MS),
      );
      if (!inst || inst.Status === "STOPPED" || inst.Status === "STOPPING" || inst.Status === "FAILED")
        return "gone";
      return inst.Status === "RUNNING" || inst.Status === "PAUSED" ? "alive" : "unreachable";
    } catch {
      return "unreachable";
    }
  }

  async stop(handle: Json): Promise<void> {
    const d = this.deployment(handle);
    this.live.delete(handleString(handle, "instance_id"));
    await d.stop();
  }

  async pause(handle: Json): Promise<void> {
    await this.deployment(handle).pause();
  }

  async resume(handle: Json): Promise<void> {
    await this.deployment(handle).resume();
  }

  /** Instances are found by their Metadata with `swerex ags gc`; the service does not list them. */
  async listResources(): Promise<BackendResource[]> {
    return [];
  }

  async removeResource(): Promise<void> {}

  async close(): Promise<void> {
    this.live.clear();
    await Promise.allSettled([...this.dispatchers.values()].map((d) => d?.close()));
    this.dispatchers.clear();
  }
}
