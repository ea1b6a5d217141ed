import type { z } from "zod";
import { AgsApiRules } from "../../deployment/ags/index.js";
import { AgsApiError } from "./api-error.js";
import type { BackendHandle, ResolvedImageMount } from "./backends/types.js";
import { ClientTokens } from "./client-token.js";
import type { EmulatorContext } from "./context.js";
import { parseAgsDuration } from "./duration.js";
import { newAccessToken, newInstanceId, newTrafficToken } from "./ids.js";
import {
  applyFilters,
  DEFAULT_LIMIT,
  decodeNextToken,
  encodeNextToken,
  MAX_LIMIT,
  offsetPage,
  queryFingerprint,
  selectByIds,
} from "./paging.js";
import { waitUntilReady } from "./probe.js";
import {
  type CustomConfiguration,
  DescribeSandboxInstanceListRequest,
  InstanceIdRequest,
  type MetadataVar,
  type MountOption,
  PauseSandboxInstanceRequest,
  parseRequest,
  ResumeSandboxInstanceRequest,
  StartSandboxInstanceRequest,
  UpdateSandboxInstanceRequest,
} from "./schemas.js";
import { formatTime, formatTokenExpiry } from "./timefmt.js";
import type { ToolRecord, ToolStore } from "./tools.js";

export type InstanceStatus =
  | "STARTING"
  | "RUNNING"
  | "PAUSING"
  | "PAUSED"
  | "RESUMING"
  | "RESUME_FAILED"
  | "STOPPING"
  | "STOPPED"
  | "FAILED"
  | "STARTING_FAILED"
  | "STOPPING_FAILED"
  | "PAUSE_FAILED";

export type StopReason = "manual" | "timeout" | "error" | "system";
export type AuthMode = "DEFAULT" | "TOKEN" | "NONE" | "PUBLIC";
const AUTH_MODES: readonly string[] = ["DEFAULT", "TOKEN", "NONE", "PUBLIC"];
/** The envd port: under AuthMode PUBLIC only it needs a token. */
export const ENVD_PORT = 49983;

/** States that hold sandbox resources (count against the quota, block tool deletion). */
const LIVE: ReadonlySet<InstanceStatus> = new Set([
  "STARTING",
  "RUNNING",
  "PAUSING",
  "PAUSED",
  "RESUMING",
  "STOPPING",
]);
const STOPPABLE: ReadonlySet<InstanceStatus> = new Set([
  "STARTING",
  "RUNNING",
  "PAUSING",
  "PAUSED",
  "RESUMING",
  "RESUME_FAILED",
  "PAUSE_FAILED",
]);
/** States whose ExpiresAt is enforced; a paused instance keeps its record until resumed or stopped. */
const EXPIRING: ReadonlySet<InstanceStatus> = new Set(["STARTING", "RUNNING", "RESUMING"]);
const HEALTH_CHECK_INTERVAL_MS = 1000;

export interface InstanceRecord {
  InstanceId: string;
  ToolId: string;
  ToolName: string;
  Status: InstanceStatus;
  StopReason?: StopReason;
  TimeoutSeconds: number;
  expiresAtMs: number;
  createdMs: number;
  updatedMs: number;
  AuthMode: AuthMode;
  MountOptions: z.output<typeof MountOption>[];
  CustomConfiguration?: z.output<typeof CustomConfiguration>;
  Metadata: z.output<typeof MetadataVar>[];
  NetworkMode: string;
  Persistent: boolean;
  /** Token → expiry (ms). */
  tokens: Map<string, number>;
  handle?: BackendHandle;
  /** Aborts an in-flight start when the instance is stopped meanwhile. */
  startAbort: AbortController;
  lastHealthCheckMs: number;
  seq: number;
  tool: ToolRecord;
}

/** Sandbox instances: lifecycle state machine, expiry, quota, idempotency, tokens. */
export class InstanceStore {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly clientTokens = new ClientTokens();
  private seq = 0;
  /** Fault injection: the next starts are refused for quota or capacity, as the real service does. */
  private refusals: ("quota" | "capacity")[] = [];

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly tools: ToolStore,
  ) {
    tools.activeInstanceCount = (toolId) =>
      [...this.instances.values()].filter((i) => i.ToolId === toolId && LIVE.has(i.Status)).length;
  }

  list(): InstanceRecord[] {
    return [...this.instances.values()].sort((a, b) => b.seq - a.seq);
  }

  get(id: string): InstanceRecord | undefined {
    return this.instances.get(id);
  }

  render(i: InstanceRecord): Record<string, unknown> {
    const fmt = (ms: number) => formatTime(ms, this.ctx.timestampStyle);
    const out: Record<string, unknown> = {
      InstanceId: i.InstanceId,
      ToolId: i.ToolId,
      ToolName: i.ToolName,
      Status: i.Status,
      Persistent: i.Persistent,
      TimeoutSeconds: i.TimeoutSeconds,
      ExpiresAt: fmt(i.expiresAtMs),
      CreateTime: fmt(i.createdMs),
      UpdateTime: fmt(i.updatedMs),
      MountOptions: i.MountOptions,
      CustomConfiguration: i.CustomConfiguration ?? null,
      ComputerConfiguration: i.tool.ComputerConfiguration ?? null,
      NetworkMode: i.NetworkMode,
      Metadata: i.Metadata,
      AuthMode: i.AuthMode,
    };
    // StopReason is only set for STOPPED / STOP_FAILED / FAILED.
    if (i.StopReason && (i.Status === "STOPPED" || i.Status === "FAILED" || i.Status === "STOPPING_FAILED")) {
      out.StopReason = i.StopReason;
    }
    return out;
  }

  private setStatus(i: InstanceRecord, status: InstanceStatus, stopReason?: StopReason): void {
    i.Status = status;
    if (stopReason) i.StopReason = stopReason;
    i.updatedMs = this.ctx.now();
    this.ctx.logger?.info({ instanceId: i.InstanceId, status, stopReason }, "sandbox instance status");
  }

  require(id: string): InstanceRecord {
    const i = this.instances.get(id);
    if (!i) throw new AgsApiError("ResourceNotFound.SandboxInstance", "sandbox instance not found");
    return i;
  }

  private quotaUsed(): number {
    return [...this.instances.values()].filter(
      (i) => LIVE.has(i.Status) || (this.ctx.quotaCountsStopped && i.Status === "STOPPED"),
    ).length;
  }

  refuseNextStarts(count: number, kind: "quota" | "capacity"): void {
    for (let i = 0; i < count; i++) this.refusals.push(kind);
  }

  start(body: unknown): Record<string, unknown> {
    const req = parseRequest(StartSandboxInstanceRequest, body);
    const claim = this.clientTokens.claim(req);
    const existing = claim.earlierId === undefined ? undefined : this.instances.get(claim.earlierId);
    if (existing) return { Instance: this.render(existing) };
    if (req.ToolId === undefined && req.ToolName === undefined) {
      throw new AgsApiError(
        "MissingParameter",
        "The request is missing a required parameter `ToolId` or `ToolName`.",
      );
    }
    let tool: ToolRecord | undefined;
    if (req.ToolId !== undefined) {
      tool = this.tools.require(req.ToolId);
      if (req.ToolName !== undefined && req.ToolName !== tool.ToolName) {
        throw new AgsApiError(
          "InvalidParameter",
          "`ToolId` and `ToolName` refer to different sandbox tools.",
        );
      }
    } else {
      tool = this.tools.findByName(req.ToolName as string);
      if (!tool)
        throw new AgsApiError("ResourceNotFound.SandboxTool", `SandboxTool ${req.ToolName} not found.`);
    }
    if (tool.Status !== "ACTIVE") {
      throw new AgsApiError(
        "ResourceUnavailable.SandboxTool",
        `SandboxTool ${tool.ToolId} is not active (status ${tool.Status}).`,
      );
    }
    const timeout = req.Timeout === undefined ? tool.DefaultTimeoutSeconds : parseAgsDuration(req.Timeout);
    const authMode = req.AuthMode ?? "DEFAULT";
    if (!AUTH_MODES.includes(authMode)) {
      throw new AgsApiError(
        "InvalidParameterValue",
        `AuthMode "${authMode}" is invalid; valid: ${AUTH_MODES.join(", ")}.`,
      );
    }
    const mountOptions = req.MountOptions ?? [];
    const mounts = resolveMounts(tool, mountOptions);
    const used = this.quotaUsed();
    const refusal = this.refusals.shift();
    if (refusal === "capacity") {
      throw new AgsApiError(
        "ResourceInsufficient.SandboxInstance",
        "Insufficient resources to start the sandbox instance in this region. Please try again later.",
      );
    }
    if (used >= this.ctx.instanceQuota || refusal === "quota") {
      throw new AgsApiError(
        "LimitExceeded.SandboxInstance",
        `Sandbox instance quota exceeded. Current: ${used}, Max: ${this.ctx.instanceQuota}.`,
      );
    }
    const now = this.ctx.now();
    const inst: InstanceRecord = {
      InstanceId: newInstanceId(),
      ToolId: tool.ToolId,
      ToolName: tool.ToolName,
      Status: "STARTING",
      TimeoutSeconds: timeout,
      expiresAtMs: now + timeout * 1000,
      createdMs: now,
      updatedMs: now,
      AuthMode: authMode as AuthMode,
      MountOptions: mountOptions,
      CustomConfiguration: mergeCustomConfiguration(tool.CustomConfiguration, req.CustomConfiguration),
      Metadata: req.Metadata ?? [],
      NetworkMode: tool.NetworkConfiguration.NetworkMode,
      Persistent: tool.Persistent,
      tokens: new Map(),
      startAbort: new AbortController(),
      lastHealthCheckMs: 0,
      seq: ++this.seq,
      tool,
    };
    this.instances.set(inst.InstanceId, inst);
    claim.remember(inst.InstanceId);
    this.ctx.track(`instance ${inst.InstanceId} start`, () => this.runStart(inst, mounts));
    return { Instance: this.render(inst) };
  }

  private async runStart(inst: InstanceRecord, mounts: ResolvedImageMount[]): Promise<void> {
    const signal = inst.startAbort.signal;
    const cfg = inst.CustomConfiguration ?? {};
    const ports = (cfg.Ports ?? []).map((p) => p.Port).filter((p): p is number => typeof p === "number");
    try {
      const [min, max] = this.ctx.startMs;
      await this.ctx.sleep(min + Math.random() * Math.max(0, max - min), signal);
      const handle = await this.ctx.backend.start({
        instanceId: inst.InstanceId,
        toolId: inst.ToolId,
        image: cfg.Image,
        command: cfg.Command,
        args: cfg.Args,
        env: (cfg.Env ?? []).map((e) => ({ name: e.Name ?? "", value: e.Value ?? "" })).filter((e) => e.name),
        ports,
        mounts,
        signal,
      });
      inst.handle = handle;
      if (signal.aborted) {
        await handle.stop();
        return;
      }
      const probe = cfg.Probe;
      if (probe?.HttpGet) {
        const port = probe.HttpGet.Port ?? ports[0] ?? 8000;
        const ready = await waitUntilReady(
          () => handle.target(port),
          {
            path: probe.HttpGet.Path ?? "/",
            port,
            readyTimeoutMs: probe.ReadyTimeoutMs ?? 30_000,
            probeTimeoutMs: probe.ProbeTimeoutMs ?? 1000,
            probePeriodMs: probe.ProbePeriodMs ?? 2000,
            successThreshold: probe.SuccessThreshold ?? 1,
          },
          signal,
        );
        if (!ready) {
          await handle.stop();
          if (inst.Status === "STARTING") this.setStatus(inst, "STARTING_FAILED");
          return;
        }
      }
      if (inst.Status === "STARTING") this.setStatus(inst, "RUNNING");
    } catch (err) {
      if (signal.aborted) return; // stopped or expired while starting; that path owns the status
      this.ctx.logger?.warn({ instanceId: inst.InstanceId, err: String(err) }, "sandbox start failed");
      await inst.handle?.stop().catch(() => undefined);
      if (inst.Status === "STARTING") this.setStatus(inst, "STARTING_FAILED");
    }
  }

  /** Moves an instance to STOPPED (through STOPPING), releasing its backend. */
  private beginStop(inst: InstanceRecord, reason: StopReason): void {
    this.setStatus(inst, "STOPPING");
    inst.startAbort.abort(new Error("instance stopping"));
    this.ctx.track(`instance ${inst.InstanceId} stop`, async () => {
      await this.ctx.sleep(this.ctx.transitionMs);
      try {
        await inst.handle?.stop();
        this.setStatus(inst, "STOPPED", reason);
      } catch (err) {
        this.ctx.logger?.warn({ instanceId: inst.InstanceId, err: String(err) }, "sandbox stop failed");
        this.setStatus(inst, "STOPPING_FAILED", reason);
      }
      inst.tokens.clear();
    });
  }

  stop(body: unknown): Record<string, unknown> {
    const req = parseRequest(InstanceIdRequest, body);
    const inst = this.require(req.InstanceId);
    if (!STOPPABLE.has(inst.Status)) {
      throw new AgsApiError(
        "UnsupportedOperation.SandboxInstance",
        `Only RUNNING/PAUSING/PAUSED/STARTING/RESUMING sandbox instances can be stopped; current status: ${inst.Status}.`,
      );
    }
    this.beginStop(inst, "manual");
    return {};
  }

  pause(body: unknown): Record<string, unknown> {
    const req = parseRequest(PauseSandboxInstanceRequest, body);
    const inst = this.require(req.InstanceId);
    if (inst.Status !== "RUNNING") {
      throw new AgsApiError(
        "UnsupportedOperation.SandboxInstance",
        `Only RUNNING sandbox instances can be paused; current status: ${inst.Status}.`,
      );
    }
    this.setStatus(inst, "PAUSING");
    this.ctx.track(`instance ${inst.InstanceId} pause`, async () => {
      await this.ctx.sleep(this.ctx.transitionMs);
      try {
        await inst.handle?.pause();
        if (inst.Status === "PAUSING") this.setStatus(inst, "PAUSED");
      } catch (err) {
        this.ctx.logger?.warn({ instanceId: inst.InstanceId, err: String(err) }, "sandbox pause failed");
        if (inst.Status === "PAUSING") this.setStatus(inst, "PAUSE_FAILED");
      }
    });
    return { InstanceStatus: "PAUSING" };
  }

  resume(body: unknown): Record<string, unknown> {
    const req = parseRequest(ResumeSandboxInstanceRequest, body);
    const inst = this.require(req.InstanceId);
    if (inst.Status !== "PAUSED" && inst.Status !== "RESUME_FAILED") {
      throw new AgsApiError(
        "UnsupportedOperation.SandboxInstance",
        `Only PAUSED or RESUME_FAILED sandbox instances can be resumed; current status: ${inst.Status}.`,
      );
    }
    const timeout = req.Timeout === undefined ? inst.TimeoutSeconds : parseAgsDuration(req.Timeout);
    this.setStatus(inst, "RESUMING");
    inst.TimeoutSeconds = timeout;
    inst.expiresAtMs = this.ctx.now() + timeout * 1000;
    this.ctx.track(`instance ${inst.InstanceId} resume`, async () => {
      await this.ctx.sleep(this.ctx.transitionMs);
      try {
        await inst.handle?.resume();
        if (inst.Status === "RESUMING") this.setStatus(inst, "RUNNING");
      } catch (err) {
        this.ctx.logger?.warn({ instanceId: inst.InstanceId, err: String(err) }, "sandbox resume failed");
        if (inst.Status === "RESUMING") this.setStatus(inst, "RESUME_FAILED");
      }
    });
    return {};
  }

  update(body: unknown): Record<string, unknown> {
    const req = parseRequest(UpdateSandboxInstanceRequest, body);
    const inst = this.require(req.InstanceId);
    if (inst.Status !== "RUNNING") {
      throw new AgsApiError(
        "UnsupportedOperation.SandboxInstance",
        `Only RUNNING sandbox instances can be modified; current status: ${inst.Status}.`,
      );
    }
    if (inst.Persistent && req.Timeout !== undefined) {
      throw new AgsApiError(
        "UnsupportedOperation.SandboxInstance",
        "The timeout of a persistent sandbox instance cannot be modified.",
      );
    }
    if (req.Timeout !== undefined) {
      const timeout = parseAgsDuration(req.Timeout);
      inst.TimeoutSeconds = timeout;
      inst.expiresAtMs = this.ctx.now() + timeout * 1000;
    }
    if (req.Metadata !== undefined) inst.Metadata = req.Metadata;
    inst.updatedMs = this.ctx.now();
    return {};
  }

  describe(body: unknown): Record<string, unknown> {
    const req = parseRequest(DescribeSandboxInstanceListRequest, body);
    let items = selectByIds(this.list(), req.InstanceIds, "InstanceIds", (i) => i.InstanceId);
    if (req.ToolId !== undefined) items = items.filter((i) => i.ToolId === req.ToolId);
    if (
      req.Filters?.some((f) => f.Name === "Status" && f.Values.includes("UNHEALTHY") && f.Values.length > 1)
    ) {
      throw new AgsApiError(
        "InvalidParameterValue",
        "The derived status UNHEALTHY must be the only Status value.",
      );
    }
    items = applyFilters(items, req.Filters, {
      Status: (i) => i.Status,
      ToolName: (i) => i.ToolName,
      ToolId: (i) => i.ToolId,
    });
    const tokenMode = req.MaxResults !== undefined || req.NextToken !== undefined;
    if (!tokenMode) {
      const page = offsetPage(items, req.Offset, req.Limit);
      return { InstanceSet: page.map((i) => this.render(i)), TotalCount: items.length };
    }
    if (req.MaxResults !== undefined && req.MaxResults > MAX_LIMIT) {
      throw new AgsApiError(
        "InvalidParameterValue",
        `The value of \`MaxResults\` must be at most ${MAX_LIMIT}.`,
      );
    }
    const { NextToken: _token, NeedTotalCount: _need, ...query } = req;
    const fingerprint = queryFingerprint(query);
    const now = this.ctx.now();
    const offset = req.NextToken ? decodeNextToken(req.NextToken, fingerprint, now) : 0;
    const size = req.MaxResults ?? DEFAULT_LIMIT;
    const page = items.slice(offset, offset + size);
    const out: Record<string, unknown> = {
      InstanceSet: page.map((i) => this.render(i)),
      TotalCount: req.NeedTotalCount ? items.length : 0,
    };
    if (offset + size < items.length) out.NextToken = encodeNextToken(offset + size, fingerprint, now);
    return out;
  }

  acquireToken(body: unknown): Record<string, unknown> {
    const req = parseRequest(InstanceIdRequest, body);
    const inst = this.require(req.InstanceId);
    if (!LIVE.has(inst.Status) || inst.Status === "STOPPING") {
      throw new AgsApiError("ResourceNotFound.SandboxInstance", "sandbox instance not found");
    }
    const token = newAccessToken();
    const expiresAtMs = this.ctx.now() + this.ctx.tokenTtlSeconds * 1000;
    inst.tokens.set(token, expiresAtMs);
    return { Token: token, ExpiresAt: formatTokenExpiry(expiresAtMs), TrafficToken: newTrafficToken() };
  }

  /** Whether `token` opens `port` of the instance (AuthMode rules, expiry). */
  tokenAllows(inst: InstanceRecord, port: number, token: string | undefined): boolean {
    if (inst.AuthMode === "NONE") return true;
    if (inst.AuthMode === "PUBLIC" && port !== ENVD_PORT) return true;
    if (!token) return false;
    const exp = inst.tokens.get(token);
    return exp !== undefined && exp > this.ctx.now();
  }

  /** Fault injection: every issued token expires now. */
  expireTokens(instanceId?: string): void {
    const now = this.ctx.now();
    for (const inst of this.instances.values()) {
      if (instanceId !== undefined && inst.InstanceId !== instanceId) continue;
      for (const t of inst.tokens.keys()) inst.tokens.set(t, now - 1);
    }
  }

  /** Fault injection: the instance's Timeout elapses now (the sweep then stops it with StopReason timeout). */
  expireNow(instanceId: string): void {
    this.require(instanceId).expiresAtMs = this.ctx.now() - 1;
  }

  /** Fault injection: the sandbox dies abruptly; the instance becomes FAILED with StopReason=error. */
  async kill(instanceId: string): Promise<void> {
    const inst = this.require(instanceId);
    inst.startAbort.abort(new Error("instance killed"));
    await inst.handle?.kill();
    this.setStatus(inst, "FAILED", "error");
    inst.tokens.clear();
  }

  /** Periodic sweep: expiry → STOPPED(timeout); a dead backend → FAILED(error). */
  async sweep(): Promise<void> {
    const now = this.ctx.now();
    for (const inst of this.instances.values()) {
      if (EXPIRING.has(inst.Status) && inst.expiresAtMs <= now) {
        this.beginStop(inst, "timeout");
        continue;
      }
      // Health checks cost an engine call per instance (docker inspect): at most one per interval each.
      if (
        inst.Status !== "RUNNING" ||
        !inst.handle ||
        now - inst.lastHealthCheckMs < HEALTH_CHECK_INTERVAL_MS
      )
        continue;
      inst.lastHealthCheckMs = now;
      if (!(await inst.handle.isAlive())) {
        if (inst.Status !== "RUNNING") continue;
        this.setStatus(inst, "FAILED", "error");
        inst.tokens.clear();
        await inst.handle.stop().catch(() => undefined);
      }
    }
  }

  /** Cancels every start in flight (emulator shutdown, before waiting for background work). */
  abortStarts(): void {
    for (const inst of this.instances.values()) inst.startAbort.abort(new Error("emulator closing"));
  }

  /** Stops every backend (emulator shutdown). */
  async stopAll(): Promise<void> {
    this.abortStarts();
    await Promise.allSettled([...this.instances.values()].map((inst) => inst.handle?.stop()));
  }
}

function mergeCustomConfiguration(
  base: z.output<typeof CustomConfiguration> | undefined,
  override: z.output<typeof CustomConfiguration> | undefined,
): z.output<typeof CustomConfiguration> | undefined {
  if (!base) return override;
  if (!override) return base;
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) if (v !== undefined && v !== null) merged[k] = v;
  return merged as z.output<typeof CustomConfiguration>;
}

/** Applies MountOptions to the tool's image mounts (name must exist; MountPath limited to the documented roots). */
function resolveMounts(tool: ToolRecord, options: z.output<typeof MountOption>[]): ResolvedImageMount[] {
  const byName = new Map(options.map((o) => [o.Name, o]));
  for (const o of options) {
    if (!o.Name)
      throw new AgsApiError("InvalidParameterValue.MountOption", "MountOptions[].Name is required.");
    const mount = tool.StorageMounts.find((m) => m.Name === o.Name);
    if (!mount) {
      throw new AgsApiError(
        "ResourceNotFound.StorageMount",
        `Storage mount "${o.Name}" is not defined by the tool.`,
      );
    }
    if (o.MountPath !== undefined && !AgsApiRules.isMountOptionPath(o.MountPath)) {
      throw new AgsApiError(
        "InvalidParameterValue.MountOption",
        `MountOptions MountPath "${o.MountPath}" is not allowed; use a path under ${AgsApiRules.MOUNT_OPTION_ROOTS.join(", ")}.`,
      );
    }
    if (mount.ReadOnly === true && o.ReadOnly === false) {
      throw new AgsApiError(
        "InvalidParameterValue.MountOption",
        `Storage mount "${o.Name}" is read-only in the tool; MountOptions may not make it writable.`,
      );
    }
  }
  const out: ResolvedImageMount[] = [];
  for (const m of tool.StorageMounts) {
    const image = m.StorageSource?.Image;
    if (!image?.Reference || !m.Name) continue;
    const o = byName.get(m.Name);
    out.push({
      name: m.Name,
      reference: image.Reference,
      subPath: o?.SubPath ?? image.SubPath ?? "/",
      mountPath: o?.MountPath ?? m.MountPath ?? "/",
      readOnly: o?.ReadOnly ?? m.ReadOnly ?? false,
    });
  }
  return out;
}
