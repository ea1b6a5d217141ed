/**
 * Finds containers that a swerex process created and left behind (it was SIGKILLed, or the machine went
 * down mid-run) by their owner labels, and removes them. By default only containers whose owner process is
 * gone are touched; containers of live processes, or of processes on other hosts, or of a control-plane
 * service (`swerex.service` label: `swerex serve` reconciles those itself), are left alone.
 */
import type Docker from "dockerode";
import { engineMessage, engineStatus, sharedDockerClient } from "../../docker/engine.js";
import {
  LABEL_KEEP,
  LABEL_MANAGED,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_SERVICE,
  type OwnerState,
  ownerState,
} from "../owner.js";

export interface ReapOptions {
  docker?: Docker;
  /** Every swerex container, whoever owns it (alive or not, any host). */
  all?: boolean;
  /** Report what would be done, touch nothing. */
  dryRun?: boolean;
  /** Only containers that also carry these labels (`key` or `key=value`). */
  labels?: string[];
}

export interface ReapedContainer {
  id: string;
  name: string;
  image: string;
  state: string;
  owner: string;
  ownerState: OwnerState;
  /** `removed`; `stopped` for containers kept for inspection (`remove_container: false`); `failed` with a reason. */
  action: "removed" | "stopped" | "failed";
  error?: string;
}

const CALL_TIMEOUT_MS = 60_000;

export async function reapContainers(opts: ReapOptions = {}): Promise<ReapedContainer[]> {
  const docker = opts.docker ?? sharedDockerClient();
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_MANAGED}=true`, ...(opts.labels ?? [])] },
    abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  } as Docker.ContainerListOptions);
  const results: ReapedContainer[] = [];
  for (const info of list) {
    const labels = info.Labels ?? {};
    const state = ownerState(labels);
    // A control-plane service's sandboxes outlive its process by design (their leases own them).
    if (!opts.all && (state !== "dead" || labels[LABEL_SERVICE] !== undefined)) continue;
    const keep = labels[LABEL_KEEP] === "true";
    const result: ReapedContainer = {
      id: info.Id,
      name: (info.Names?.[0] ?? "").replace(/^\//, ""),
      image: info.Image,
      state: info.State,
      owner: `${labels[LABEL_OWNER_PID] ?? "?"}@${labels[LABEL_OWNER_HOST] ?? "?"}`,
      ownerState: state,
      action: keep ? "stopped" : "removed",
    };
    results.push(result);
    if (opts.dryRun) continue;
    const container = docker.getContainer(info.Id);
    const abortSignal = AbortSignal.timeout(CALL_TIMEOUT_MS);
    try {
      if (!keep) await container.remove({ force: true, v: true, abortSignal });
      else if (info.State === "running") await container.kill({ abortSignal });
    } catch (err) {
      // Gone or already stopping in the meantime is what we wanted anyway.
      const status = engineStatus(err);
      if (status !== 404 && status !== 409) {
        result.action = "failed";
        result.error = engineMessage(err);
      }
    }
  }
  return results;
}
