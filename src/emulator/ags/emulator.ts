import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Dispatcher } from "undici";
import { createHostRoutingDispatcher, createHostRoutingHttpAgent } from "../../net/index.js";
import { sleep } from "../../runtime/index.js";
import { LocalBackend, type RuntimeServerSpawner } from "./backends/local.js";
import type { SandboxBackend } from "./backends/types.js";
import type { EmulatorContext, EmulatorLogger } from "./context.js";
import { createControlPlaneHandler, type InjectedFault, MAX_BODY_BYTES } from "./control-plane.js";
import { createGateway, isSandboxHost, parseGatewayHost } from "./gateway.js";
import { type InstanceRecord, InstanceStore } from "./instances.js";
import { PrecacheStore } from "./precache.js";
import { RateLimiter } from "./rate-limit.js";
import type { TimestampStyle } from "./timefmt.js";
import { type ToolRecord, ToolStore } from "./tools.js";

export interface AgsEmulatorCredential {
  secretId: string;
  secretKey: string;
  /** STS temporary credentials: requests must carry this token as `X-TC-Token`. */
  sessionToken?: string;
}

export interface AgsEmulatorFault {
  /** Probability 0..1 that a call of the action fails. */
  rate: number;
  /** Error code to answer with (default `InternalError`). */
  code?: string;
  message?: string;
}

export interface AgsEmulatorOptions {
  /** Listen port; 0 picks a free one. */
  port?: number;
  /** Listen address; loopback by default. */
  host?: string;
  credentials: AgsEmulatorCredential[];
  /** Data-plane domain (`{port}-{instanceId}.{domain}`). */
  domain?: string;
  /** `local` (a swerex-remote process per instance), `docker` (a container per instance) or a custom backend. */
  backend?: "local" | "docker" | SandboxBackend;
  /** Lifetime of tokens from AcquireSandboxInstanceToken (seconds). */
  tokenTtlSeconds?: number;
  /** Live instances allowed at once (`LimitExceeded.SandboxInstance` above). */
  instanceQuota?: number;
  /** Count STOPPED records against the quota, as the real service was seen doing. */
  quotaCountsStopped?: boolean;
  /** Per-action limits in requests per second. */
  rateLimits?: Record<string, number>;
  /** Limit for actions not in `rateLimits` (the real default is 20/s). */
  defaultRateLimit?: number;
  latency?: {
    /** Added to every API answer. */
    apiMs?: number;
    /** STARTING lasts a uniform [min, max] before the backend starts. */
    startMs?: [number, number];
    /** Tool CREATING → ACTIVE and DELETING → gone. */
    toolMs?: number;
    /** STOPPING / PAUSING / RESUMING minimum duration. */
    transitionMs?: number;
    /** How long an image pre-cache task takes (Pending → Running → Success). */
    precacheMs?: number;
  };
  faults?: { errorRate?: Record<string, number | AgsEmulatorFault> };
  /** Regions answered (`X-TC-Region`); others get `UnsupportedRegion`. Default {@link DEFAULT_AGS_REGIONS}. */
  regions?: readonly string[];
  /** Largest request body the control plane reads (bytes; default 10 MB, the API's limit). */
  maxBodyBytes?: number;
  /** Allowed clock skew of X-TC-Timestamp (seconds). */
  signatureWindowSeconds?: number;
  /** Require the credential-scope service `ags` (clients must use an `ags.*` endpoint name). */
  strictService?: boolean;
  /** `Z` (API examples) or `+08:00` (what the real service emits). */
  timestampStyle?: TimestampStyle;
  /** How often expiry and backend health are checked (ms). */
  sweepIntervalMs?: number;
  /** Gateway upstream timeout (ms). */
  upstreamTimeoutMs?: number;
  /** Local backend: how to start a runtime server (defaults to src/server's spawnRuntimeServerProcess). */
  spawnRuntimeServer?: RuntimeServerSpawner;
  /** Docker backend options. */
  docker?: import("./backends/docker.js").DockerBackendOptions;
  logger?: EmulatorLogger;
}

export interface AgsEmulator {
  /** `http://127.0.0.1:P`: the control-plane URL. */
  endpoint: string;
  /** `127.0.0.1:P`: what the Tencent Cloud SDK takes as `httpProfile.endpoint` (with `protocol: "http://"`). */
  endpointHost: string;
  /** The gateway shares the API port; it routes on the Host header. */
  gatewayUrl: string;
  port: number;
  domain: string;
  /** Production-shaped data-plane URL of an instance port. */
  instanceUrl(instanceId: string, port: number): string;
  /** undici dispatcher that sends `*.{domain}` (http or https) to the emulator keeping the Host header. */
  dispatcher(): Dispatcher;
  /** node:http Agent resolving `*.{domain}` and `ags.tencentcloudapi.com` to the emulator (for the SDK). */
  httpAgent(apiHostnames?: string[]): import("node:http").Agent;
  listTools(): Record<string, unknown>[];
  listInstances(): Record<string, unknown>[];
  /** Calls per action that passed authentication (including rate-limited and faulted ones). */
  callCounts(): Record<string, number>;
  /** Calls per action answered `RequestLimitExceeded` (over the action's rate limit). */
  limitedCounts(): Record<string, number>;
  inject: {
    /** The instance's sandbox dies: backend killed, status FAILED, StopReason error. */
    killInstance(instanceId: string): Promise<void>;
    /** Every issued token (or one instance's) expires now: the gateway answers 401. */
    expireTokens(instanceId?: string): void;
    /** The instance's Timeout elapses now: it stops with StopReason timeout, as a real expiry does. */
    expireInstance(instanceId: string): void;
    setErrorRate(action: string, rate: number, code?: string, message?: string): void;
    setRateLimit(action: string, perSecond: number): void;
    setApiLatency(ms: number): void;
    /** The next CreateSandboxTool ends FAILED with this StatusReason. */
    failNextToolCreation(reason?: string): void;
    /**
     * The next `count` StartSandboxInstance calls are refused: `quota` answers
     * `LimitExceeded.SandboxInstance`, `capacity` answers `ResourceInsufficient.SandboxInstance`.
     */
    refuseStarts(count: number, kind: "quota" | "capacity"): void;
    /** The next new pre-cache task ends `Failed` with this message. */
    failNextPrecache(message?: string): void;
  };
  /** Stops every backend process/container started, then the server. */
  close(): Promise<void>;
}

export const DEFAULT_AGS_DOMAIN = "ap-chongqing.tencentags.com";
/**
 * Tencent Cloud's public regions. AGS may serve fewer; pass `regions` to match an account. A region outside
 * the list gets `UnsupportedRegion`, as the real API answers.
 */
export const DEFAULT_AGS_REGIONS = [
  "ap-guangzhou",
  "ap-shanghai",
  "ap-nanjing",
  "ap-beijing",
  "ap-chengdu",
  "ap-chongqing",
  "ap-hongkong",
  "ap-singapore",
  "ap-jakarta",
  "ap-seoul",
  "ap-tokyo",
  "ap-bangkok",
  "na-siliconvalley",
  "na-ashburn",
  "eu-frankfurt",
  "sa-saopaulo",
] as const;
const ACTION_NAMES = [
  "CreateSandboxTool",
  "DescribeSandboxToolList",
  "UpdateSandboxTool",
  "DeleteSandboxTool",
  "StartSandboxInstance",
  "DescribeSandboxInstanceList",
  "StopSandboxInstance",
  "PauseSandboxInstance",
  "ResumeSandboxInstance",
  "UpdateSandboxInstance",
  "AcquireSandboxInstanceToken",
  "CreatePreCacheImageTask",
  "DescribePreCacheImageTask",
] as const;
export type AgsEmulatorAction = (typeof ACTION_NAMES)[number];

function toFault(value: number | AgsEmulatorFault): InjectedFault {
  const f = typeof value === "number" ? { rate: value } : value;
  const code = f.code ?? "InternalError";
  return {
    rate: f.rate,
    code,
    message:
      f.message ??
      (code === "InternalError"
        ? "An internal error has occurred. Retry your request."
        : `Injected fault: ${code}.`),
  };
}

async function makeBackend(opts: AgsEmulatorOptions): Promise<SandboxBackend> {
  const b = opts.backend ?? "local";
  if (typeof b === "object") return b;
  if (b === "local") return new LocalBackend(opts.spawnRuntimeServer);
  const { DockerBackend } = await import("./backends/docker.js");
  return new DockerBackend(opts.docker ?? {});
}

/** Starts the AGS control-plane and gateway emulator on one loopback port. */
export async function startAgsEmulator(opts: AgsEmulatorOptions): Promise<AgsEmulator> {
  if (opts.credentials.length === 0) throw new Error("startAgsEmulator needs at least one credential");
  const domain = opts.domain ?? DEFAULT_AGS_DOMAIN;
  const host = opts.host ?? "127.0.0.1";
  const backend = await makeBackend(opts);
  const keys = new Map(opts.credentials.map((c) => [c.secretId, c.secretKey]));
  const pending = new Set<Promise<void>>();
  const closing = new AbortController();
  const latency = opts.latency ?? {};
  let apiLatencyMs = latency.apiMs ?? 0;
  const ctx: EmulatorContext = {
    now: () => Date.now(),
    timestampStyle: opts.timestampStyle ?? "Z",
    backend,
    toolTransitionMs: latency.toolMs ?? 0,
    startMs: latency.startMs ?? [0, 0],
    transitionMs: latency.transitionMs ?? 0,
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 3600,
    instanceQuota: opts.instanceQuota ?? 100,
    quotaCountsStopped: opts.quotaCountsStopped ?? false,
    logger: opts.logger,
    track(label, work) {
      const p = work()
        .catch((err) => opts.logger?.warn({ err: String(err), label }, "emulator background task failed"))
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    sleep: (ms, signal) => sleep(ms, signal ? AbortSignal.any([signal, closing.signal]) : closing.signal),
  };
  const tools = new ToolStore(ctx);
  const instances = new InstanceStore(ctx, tools);
  const precache = new PrecacheStore(ctx, latency.precacheMs ?? 0);
  const sessionTokens = new Map(
    opts.credentials.flatMap((c) => (c.sessionToken ? [[c.secretId, c.sessionToken] as const] : [])),
  );
  const faults = new Map<string, InjectedFault>(
    Object.entries(opts.faults?.errorRate ?? {}).map(([a, f]) => [a, toFault(f)]),
  );
  const callCounts = new Map<string, number>();
  const limitedCounts = new Map<string, number>();
  const rateLimiter = new RateLimiter({ ...(opts.rateLimits ?? {}) }, opts.defaultRateLimit ?? 20);
  const actions: Record<AgsEmulatorAction, (body: unknown) => Record<string, unknown>> = {
    CreateSandboxTool: (b) => tools.create(b),
    DescribeSandboxToolList: (b) => tools.describe(b),
    UpdateSandboxTool: (b) => tools.update(b),
    DeleteSandboxTool: (b) => tools.delete(b),
    StartSandboxInstance: (b) => instances.start(b),
    DescribeSandboxInstanceList: (b) => instances.describe(b),
    StopSandboxInstance: (b) => instances.stop(b),
    PauseSandboxInstance: (b) => instances.pause(b),
    ResumeSandboxInstance: (b) => instances.resume(b),
    UpdateSandboxInstance: (b) => instances.update(b),
    AcquireSandboxInstanceToken: (b) => instances.acquireToken(b),
    CreatePreCacheImageTask: (b) => precache.create(b),
    DescribePreCacheImageTask: (b) => precache.describe(b),
  };
  const controlPlane = createControlPlaneHandler({
    actions,
    lookupSecretKey: (id) => keys.get(id),
    rateLimiter,
    faults,
    apiLatencyMs: () => apiLatencyMs,
    signatureWindowSeconds: opts.signatureWindowSeconds ?? 300,
    strictService: opts.strictService ?? false,
    callCounts,
    limitedCounts,
    logger: opts.logger,
    random: Math.random,
    regions: new Set(opts.regions ?? DEFAULT_AGS_REGIONS),
    lookupSessionToken: (id) => sessionTokens.get(id),
    maxBodyBytes: opts.maxBodyBytes ?? MAX_BODY_BYTES,
  });
  const gateway = createGateway({
    domain,
    instances,
    upstreamTimeoutMs: opts.upstreamTimeoutMs ?? 600_000,
    logger: opts.logger,
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = parseGatewayHost(req.headers.host, domain);
    if (route) gateway.handle(req, res, route);
    else if (isSandboxHost(req.headers.host)) gateway.unknownDomain(req, res);
    else void controlPlane(req, res);
  });
  // Long runtime commands stream nothing for minutes; the gateway's own upstream timeout bounds them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let sweeping = false;
  const sweepTimer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    instances
      .sweep()
      .catch((err) => opts.logger?.warn({ err: String(err) }, "emulator sweep failed"))
      .finally(() => {
        sweeping = false;
      });
  }, opts.sweepIntervalMs ?? 250);
  sweepTimer.unref();
  const dispatchers: Dispatcher[] = [];
  const agents: import("node:http").Agent[] = [];
  let closed: Promise<void> | undefined;
  const routing = { domain, port, host };
  return {
    endpoint: `http://${host}:${port}`,
    endpointHost: `${host}:${port}`,
    gatewayUrl: `http://${host}:${port}`,
    port,
    domain,
    instanceUrl: (id, p) => `https://${p}-${id}.${domain}`,
    dispatcher() {
      const d = createHostRoutingDispatcher(routing);
      dispatchers.push(d);
      return d;
    },
    httpAgent(apiHostnames) {
      const a = createHostRoutingHttpAgent({ ...routing, apiHostnames });
      agents.push(a);
      return a;
    },
    listTools: () => tools.list().map((t: ToolRecord) => tools.render(t)),
    listInstances: () => instances.list().map((i: InstanceRecord) => instances.render(i)),
    callCounts: () => Object.fromEntries(callCounts),
    limitedCounts: () => Object.fromEntries(limitedCounts),
    inject: {
      killInstance: (id) => instances.kill(id),
      expireTokens: (id) => instances.expireTokens(id),
      expireInstance: (id) => instances.expireNow(id),
      setErrorRate: (action, rate, code, message) => {
        if (rate <= 0) faults.delete(action);
        else faults.set(action, toFault({ rate, code, message }));
      },
      setRateLimit: (action, perSecond) => rateLimiter.setLimit(action, perSecond),
      setApiLatency: (ms) => {
        apiLatencyMs = ms;
      },
      failNextToolCreation: (reason = "InternalError") => tools.failNextCreation(reason),
      refuseStarts: (count, kind) => instances.refuseNextStarts(count, kind),
      failNextPrecache: (message = "failed to pull image: manifest unknown") => precache.failNext(message),
    },
    close() {
      closed ??= (async () => {
        clearInterval(sweepTimer);
        closing.abort(new Error("emulator closing"));
        instances.abortStarts();
        await Promise.allSettled([...pending]);
        await instances.stopAll();
        await backend.close();
        gateway.close();
        for (const a of agents) a.destroy();
        await Promise.allSettled(dispatchers.map((d) => d.close()));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}
