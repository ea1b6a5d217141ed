/** Rollout records as the API shows them: ISO 8601 timestamps, no owner; lists leave the result out. */
import type { RolloutRecord } from "../../store/types.js";
import type { RolloutWire } from "./rollout-schemas.js";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function rolloutWire(rec: RolloutRecord, withResult: boolean): RolloutWire {
  const task = (rec.request as { task?: { instance_id?: unknown } } | null)?.task;
  return {
    id: rec.id,
    state: rec.state,
    instance_id: typeof task?.instance_id === "string" ? task.instance_id : "",
    sandbox_id: rec.sandbox_id,
    metadata: rec.metadata,
    created_at: new Date(rec.created_at).toISOString(),
    started_at: iso(rec.started_at),
    finished_at: iso(rec.finished_at),
    error: rec.error,
    ...(withResult
      ? {
          request: rec.request as Record<string, unknown>,
          result: rec.result as Record<string, unknown> | null,
        }
      : {}),
  };
}
