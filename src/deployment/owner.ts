/**
 * Owner labels (Docker labels, AGS metadata/tags) on every sandbox we create: which process on which host made
 * it. `swerex reap` and `swerex ags gc` use them to find sandboxes whose owner died without stopping them
 * (SIGKILL, OOM, power loss).
 */
import { hostname } from "node:os";
// The leaf module, not the room's index: importers of owner labels (AGS gc) need not load node-pty.
import { processStartTime } from "../runtime/local/temp-dirs.js";

export { processStartTime };

export const LABEL_MANAGED = "swerex.managed";
export const LABEL_OWNER_PID = "swerex.owner.pid";
export const LABEL_OWNER_HOST = "swerex.owner.host";
/** The owner's start time (clock ticks since boot), so a recycled pid is not taken for the owner. */
export const LABEL_OWNER_START = "swerex.owner.start";
/** Docker: set when `remove_container` is false; the reaper stops such a container but keeps it for inspection. */
export const LABEL_KEEP = "swerex.keep";
/**
 * Set instead of the owner pid on sandboxes of a control-plane service (`swerex serve`): leases, not a
 * process, own them, so `swerex reap` leaves them alone and the service (by this id) reconciles them.
 */
export const LABEL_SERVICE = "swerex.service";
/** The control plane's sandbox id (`sbx-...`) on the backend resource. */
export const LABEL_SANDBOX = "swerex.sandbox";

export function ownerLabels(): Record<string, string> {
  return {
    [LABEL_MANAGED]: "true",
    [LABEL_OWNER_PID]: String(process.pid),
    [LABEL_OWNER_HOST]: hostname(),
    [LABEL_OWNER_START]: processStartTime(process.pid) ?? "",
  };
}

/** Labels of a sandbox that service `serviceId` owns: managed, no owner pid (a restart must not orphan it). */
export function serviceLabels(serviceId: string, sandboxId: string): Record<string, string> {
  return {
    [LABEL_MANAGED]: "true",
    [LABEL_OWNER_HOST]: hostname(),
    [LABEL_SERVICE]: serviceId,
    [LABEL_SANDBOX]: sandboxId,
  };
}

export type OwnerState = "alive" | "dead" | "elsewhere";

/** Whether the process that created a sandbox (by its labels) still runs; "elsewhere" = another host. */
export function ownerState(labels: Record<string, string>): OwnerState {
  if (labels[LABEL_OWNER_HOST] !== hostname()) return "elsewhere";
  const pid = Number(labels[LABEL_OWNER_PID]);
  if (!Number.isInteger(pid) || pid <= 0) return "dead";
  const start = processStartTime(pid);
  if (start === undefined) return "dead";
  const recorded = labels[LABEL_OWNER_START];
  return recorded && recorded !== start ? "dead" : "alive";
}
