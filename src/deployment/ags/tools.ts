/**
 * SandboxTool lookup and creation. A configuration maps to one deterministic tool name; concurrent
 * deployments share it instead of creating a tool each:
 * - in one process, callers share the in-flight lookup/creation promise (and its result);
 * - across processes, a lookup by name comes first, and a name conflict on create means someone else won
 *   the race, so the tool is re-read by name.
 */

import type { Logger } from "pino";
import { sleep } from "../../runtime/index.js";
import { raceAbort } from "./abort.js";
import type { AgsClient } from "./client.js";
import { AgsRequestError, AgsTimeoutError, AgsToolFailedError } from "./errors.js";
import type { CreateSandboxToolRequest, SandboxTool } from "./types.js";

export interface ToolWaitOptions {
  signal?: AbortSignal;
  pollIntervalMs?: number;
}

/** How long a shared tool creation may take on its own, independent of any one caller's deadline. */
const SHARED_CREATION_TIMEOUT_MS = 300_000;
const DEFAULT_POLL_MS = 1000;

export async function describeTool(
  client: AgsClient,
  toolId: string,
  signal?: AbortSignal,
): Promise<SandboxTool | undefined> {
  const res = await client.call("DescribeSandboxToolList", { ToolIds: [toolId] }, { signal });
  return res.SandboxToolSet?.find((t) => t.ToolId === toolId);
}

export async function findToolByName(
  client: AgsClient,
  name: string,
  signal?: AbortSignal,
): Promise<SandboxTool | undefined> {
  const res = await client.call(
    "DescribeSandboxToolList",
    { Filters: [{ Name: "ToolName", Values: [name] }], Limit: 100 },
    { signal },
  );
  // Match exactly: a server that ignores the filter must not hand us someone else's tool.
  return res.SandboxToolSet?.find((t) => t.ToolName === name);
}

/** Polls until the tool is ACTIVE; FAILED (with its StatusReason) or a vanished tool is an error. */
export async function waitToolActive(
  client: AgsClient,
  toolId: string,
  opts: ToolWaitOptions = {},
): Promise<SandboxTool> {
  for (;;) {
    const tool = await describeTool(client, toolId, opts.signal);
    if (!tool) throw new AgsToolFailedError(toolId, "the tool no longer exists");
    if (tool.Status === "ACTIVE") return tool;
    if (tool.Status === "FAILED" || tool.Status === "DELETING" || tool.Status === "ISOLATED") {
      throw new AgsToolFailedError(toolId, tool.StatusReason || `status ${tool.Status}`);
    }
    await sleep(opts.pollIntervalMs ?? DEFAULT_POLL_MS, opts.signal);
  }
}

/** `tool_id` given by the user: it must exist and be ACTIVE (a CREATING tool is waited for). */
export async function verifyTool(
  client: AgsClient,
  toolId: string,
  opts: ToolWaitOptions = {},
): Promise<SandboxTool> {
  const tool = await describeTool(client, toolId, opts.signal);
  if (!tool) throw new AgsToolFailedError(toolId, "SandboxTool not found");
  if (tool.Status === "ACTIVE") return tool;
  if (tool.Status === "CREATING") return waitToolActive(client, toolId, opts);
  throw new AgsToolFailedError(toolId, tool.StatusReason || `status ${tool.Status}, expected ACTIVE`);
}

function isNameConflict(err: unknown): boolean {
  return (
    err instanceof AgsRequestError &&
    (err.code === "InvalidParameterValue.SandboxTool" ||
      err.is("ResourceInUse") ||
      /already exist/i.test(err.serverMessage))
  );
}

async function waitUntilGone(client: AgsClient, toolId: string, opts: ToolWaitOptions): Promise<void> {
  while (await describeTool(client, toolId, opts.signal)) {
    await sleep(opts.pollIntervalMs ?? DEFAULT_POLL_MS, opts.signal);
  }
}

/** Finds the tool named in `req` or creates it; resolves once it is ACTIVE. */
async function findOrCreate(
  client: AgsClient,
  req: CreateSandboxToolRequest,
  log: Logger,
  opts: ToolWaitOptions,
): Promise<string> {
  for (let round = 0; round < 5; round++) {
    const existing = await findToolByName(client, req.ToolName, opts.signal);
    if (existing) {
      if (existing.Status === "DELETING") {
        // A gc is removing it; wait, then create a fresh one.
        await waitUntilGone(client, existing.ToolId, opts);
        continue;
      }
      log.debug({ toolId: existing.ToolId, toolName: req.ToolName }, "reusing sandbox tool");
      return (await waitToolActive(client, existing.ToolId, opts)).ToolId;
    }
    try {
      const res = await client.call("CreateSandboxTool", req, { signal: opts.signal });
      if (!res.ToolId) throw new AgsToolFailedError("", "CreateSandboxTool returned no ToolId");
      log.info({ toolId: res.ToolId, toolName: req.ToolName }, "created sandbox tool");
      return (await waitToolActive(client, res.ToolId, opts)).ToolId;
    } catch (err) {
      if (!isNameConflict(err)) throw err;
      log.debug({ toolName: req.ToolName }, "sandbox tool name taken concurrently; re-reading");
    }
  }
  throw new AgsToolFailedError("", `could not find or create sandbox tool ${req.ToolName}`);
}

const inFlight = new WeakMap<AgsClient, Map<string, Promise<string>>>();

/**
 * The ToolId of the tool for `req.ToolName`, created if needed. One lookup/creation per client and name at
 * a time; later callers get the same promise. The shared work has its own deadline so one impatient caller
 * cannot fail it for the others; each caller still stops waiting at its own `signal`.
 */
export function ensureTool(
  client: AgsClient,
  req: CreateSandboxToolRequest,
  log: Logger,
  opts: ToolWaitOptions = {},
): Promise<string> {
  let byName = inFlight.get(client);
  if (!byName) {
    byName = new Map();
    inFlight.set(client, byName);
  }
  let shared = byName.get(req.ToolName);
  if (!shared) {
    const signal = AbortSignal.timeout(SHARED_CREATION_TIMEOUT_MS);
    shared = findOrCreate(client, req, log, { pollIntervalMs: opts.pollIntervalMs, signal }).catch((err) => {
      byName.delete(req.ToolName);
      if (signal.aborted) {
        throw new AgsTimeoutError(`sandbox tool ${req.ToolName} did not become ACTIVE in time`, {
          cause: err,
        });
      }
      throw err;
    });
    byName.set(req.ToolName, shared);
  }
  return raceAbort(shared, opts.signal);
}

/** Forgets a cached tool (it was deleted under us), so the next `ensureTool` looks again. */
export function forgetTool(client: AgsClient, toolName: string): void {
  inFlight.get(client)?.delete(toolName);
}
