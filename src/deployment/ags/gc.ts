/**
 * Garbage collection of what swerex-ts left on AGS: instances whose owner process is gone (SIGKILL, crash,
 * lost machine) are stopped, and swerex-ts tools with no live instance are deleted. AGS has no
 * DeleteSandboxInstance; a STOPPED instance is the end state and the platform removes the record later.
 */
import type { Logger } from "pino";
import { LABEL_SERVICE, type OwnerState, ownerState } from "../owner.js";
import type { AgsClient } from "./client.js";
import { AgsRequestError } from "./errors.js";
import { instancePoller, stopInstance } from "./instances.js";
import { agsLogger } from "./log.js";
import { isManagedInstance, isManagedTool, metadataRecord } from "./tool-spec.js";
import type { SandboxInstance, SandboxTool } from "./types.js";

/** States in which an instance holds (or may soon hold) resources. */
const LIVE_STATES = new Set([
  "STARTING",
  "RUNNING",
  "PAUSING",
  "PAUSED",
  "RESUMING",
  "RESUME_FAILED",
  "PAUSE_FAILED",
]);
const PAGE = 100;

export interface AgsGcOptions {
  /** Stop every swerex-ts instance, also those whose owner still runs or lives on another host. */
  all?: boolean;
  /** Report what would be done, change nothing. */
  dryRun?: boolean;
  /** Stop instances only; keep the tools. */
  keepTools?: boolean;
  /** How long to wait for stopped instances to release their tools before deleting them. */
  waitMs?: number;
  logger?: Logger;
}

export interface GcInstanceEntry {
  instanceId: string;
  toolId: string;
  status: string;
  owner: string;
  ownerState: OwnerState;
  action: "stopped" | "would stop" | "kept" | "failed";
  error?: string;
}

export interface GcToolEntry {
  toolId: string;
  toolName: string;
  action: "deleted" | "would delete" | "kept" | "failed";
  reason?: string;
}

export interface AgsGcReport {
  instances: GcInstanceEntry[];
  tools: GcToolEntry[];
}

async function listAllTools(client: AgsClient, signal: AbortSignal): Promise<SandboxTool[]> {
  const all: SandboxTool[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const res = await client.call("DescribeSandboxToolList", { Offset: offset, Limit: PAGE }, { signal });
    const set = res.SandboxToolSet ?? [];
    all.push(...set);
    if (set.length < PAGE) return all;
  }
}

async function listAllInstances(client: AgsClient, signal: AbortSignal): Promise<SandboxInstance[]> {
  const all: SandboxInstance[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const res = await client.call("DescribeSandboxInstanceList", { Offset: offset, Limit: PAGE }, { signal });
    const set = res.InstanceSet ?? [];
    all.push(...set);
    if (set.length < PAGE) return all;
  }
}

function errText(err: unknown): string {
  return err instanceof AgsRequestError
    ? `${err.code}: ${err.serverMessage}`
    : err instanceof Error
      ? err.message
      : String(err);
}

export async function agsGc(client: AgsClient, opts: AgsGcOptions = {}): Promise<AgsGcReport> {
  const log = (opts.logger ?? agsLogger()).child({ component: "ags-gc" });
  const signal = AbortSignal.timeout(Math.max(60_000, (opts.waitMs ?? 120_000) + 60_000));
  const report: AgsGcReport = { instances: [], tools: [] };

  const instances = await listAllInstances(client, signal);
  const stopped: string[] = [];
  for (const inst of instances) {
    if (!isManagedInstance(inst.Metadata) || !LIVE_STATES.has(inst.Status)) continue;
    const meta = metadataRecord(inst.Metadata);
    const state = ownerState(meta);
    const entry: GcInstanceEntry = {
      instanceId: inst.InstanceId,
      toolId: inst.ToolId,
      status: inst.Status,
      owner: `${meta["swerex.owner.host"] ?? "?"}:${meta["swerex.owner.pid"] ?? "?"}`,
      ownerState: state,
      action: "kept",
    };
    report.instances.push(entry);
    // A control-plane service's instances outlive its process by design (their leases own them).
    if ((state !== "dead" || meta[LABEL_SERVICE] !== undefined) && !opts.all) continue;
    if (opts.dryRun) {
      entry.action = "would stop";
      continue;
    }
    try {
      await stopInstance(client, inst.InstanceId, signal);
      entry.action = "stopped";
      stopped.push(inst.InstanceId);
      log.info({ instanceId: inst.InstanceId, owner: entry.owner }, "gc stopped instance");
    } catch (err) {
      entry.action = "failed";
      entry.error = errText(err);
    }
  }

  if (opts.keepTools) return report;
  // Tools are only released once their instances are STOPPED, not while STOPPING.
  if (stopped.length > 0) {
    const wait = AbortSignal.any([signal, AbortSignal.timeout(opts.waitMs ?? 120_000)]);
    const poller = instancePoller(client, log);
    await Promise.allSettled(stopped.map((id) => poller.waitFor(id, ["STOPPED"], { signal: wait })));
  }
  // In a dry run, the instances we would stop count as gone.
  const wouldStop = new Set(
    report.instances.filter((e) => e.action === "would stop").map((e) => e.instanceId),
  );
  const remaining = opts.dryRun ? instances : await listAllInstances(client, signal);
  const inUse = new Set(
    remaining
      .filter((i) => (LIVE_STATES.has(i.Status) || i.Status === "STOPPING") && !wouldStop.has(i.InstanceId))
      .map((i) => i.ToolId),
  );
  for (const tool of await listAllTools(client, signal)) {
    if (!isManagedTool(tool.Tags) || tool.Status === "DELETING") continue;
    const entry: GcToolEntry = { toolId: tool.ToolId, toolName: tool.ToolName ?? "", action: "kept" };
    report.tools.push(entry);
    if (inUse.has(tool.ToolId)) {
      entry.reason = "has live instances";
      continue;
    }
    if (opts.dryRun) {
      entry.action = "would delete";
      continue;
    }
    try {
      await client.call("DeleteSandboxTool", { ToolId: tool.ToolId }, { signal });
      entry.action = "deleted";
      log.info({ toolId: tool.ToolId, toolName: tool.ToolName }, "gc deleted tool");
    } catch (err) {
      if (err instanceof AgsRequestError && err.is("ResourceNotFound")) {
        entry.action = "deleted";
        continue;
      }
      entry.action = err instanceof AgsRequestError && err.is("ResourceInUse") ? "kept" : "failed";
      entry.reason = errText(err);
    }
  }
  return report;
}
