/** Store records as the API shows them: ISO 8601 timestamps, the pass-through URL, no owner, no handle. */
import type { SandboxRecord } from "../../store/types.js";
import type { SandboxWire } from "./schemas.js";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** `base`: the service's public URL (no trailing slash). */
export function sandboxWire(rec: SandboxRecord, base: string, queuePosition?: number): SandboxWire {
  return {
    id: rec.id,
    state: rec.state,
    deployment: rec.deployment as SandboxWire["deployment"],
    metadata: rec.metadata,
    created_at: new Date(rec.created_at).toISOString(),
    started_at: iso(rec.started_at),
    stopped_at: iso(rec.stopped_at),
    expires_at: iso(rec.expires_at),
    error: rec.error,
    runtime_url: `${base}/v1/sandboxes/${rec.id}/runtime`,
    pool: rec.pool,
    host: rec.host,
    ...(rec.state === "queued" && queuePosition !== undefined ? { queue_position: queuePosition } : {}),
  };
}
