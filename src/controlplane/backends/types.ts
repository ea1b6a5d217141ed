/**
 * A backend adapter: what the control plane needs from a deployment type to own sandboxes across its own
 * restarts. A `Deployment` object lives and dies with one process; an adapter turns it into a stored
 * `handle` (JSON) and works from handles alone afterwards:
 *
 *   start(config)            -> handle          (the resource carries the sandbox id and the service id)
 *   target(handle)           -> where its swerex-remote answers and which headers reach it
 *   probe(handle)            -> "alive" | "gone" | "unreachable"
 *   stop(handle)             -> idempotent; a resource already gone is success
 *   listResources()          -> every resource labelled with this service's id (for orphan removal)
 *
 * Handles may hold secrets (the sandbox's own token): the API never returns them.
 */
import type { DeploymentConfig } from "../../deployment/index.js";
import type { Json } from "../../store/types.js";

export interface StartContext {
  sandboxId: string;
  serviceId: string;
  signal: AbortSignal;
  /** The Docker host placement chose (fleet), recorded in the sandbox's `host`; undefined otherwise. */
  host?: string;
}

/** Where a sandbox's swerex-remote answers: base URL (no trailing slash) and the headers that authenticate. */
export interface RuntimeTarget {
  url: string;
  headers: Record<string, string>;
}

export type ProbeResult = "alive" | "gone" | "unreachable";

export interface BackendResource {
  /** The sandbox id the resource is labelled with. */
  sandboxId: string;
  /** What `removeResource` needs (container id, instance id, ...). */
  ref: string;
  /** Whether it holds compute (a running container); a stopped, kept container is not active. */
  active: boolean;
  /** For logs. */
  description: string;
}

export interface BackendAdapter {
  readonly type: string;
  /** Whether pause/resume work (AGS); others answer 409. */
  readonly canPause: boolean;
  /** Starts a sandbox and returns its handle once its runtime answers. Cleans up after itself on failure. */
  start(config: DeploymentConfig, ctx: StartContext): Promise<Json>;
  target(handle: Json, signal?: AbortSignal): Promise<RuntimeTarget>;
  probe(handle: Json, signal?: AbortSignal): Promise<ProbeResult>;
  stop(handle: Json): Promise<void>;
  pause?(handle: Json): Promise<void>;
  resume?(handle: Json): Promise<void>;
  /** Resources that carry this service's id, whatever their state. */
  listResources(): Promise<BackendResource[]>;
  /** Removes a resource found by `listResources` (an orphan, or the remains of an interrupted start). */
  removeResource(ref: string): Promise<void>;
  /** Releases the adapter's own resources (shared servers, connection pools); leaves sandboxes running. */
  close(): Promise<void>;
}

/** A value of a handle that must be a string. */
export function handleString(handle: Json, key: string): string {
  const v = handle !== null && typeof handle === "object" && !Array.isArray(handle) ? handle[key] : undefined;
  if (typeof v !== "string") throw new Error(`sandbox handle has no ${key}`);
  return v;
}

export function handleNumber(handle: Json, key: string): number {
  const v = handle !== null && typeof handle === "object" && !Array.isArray(handle) ? handle[key] : undefined;
  if (typeof v !== "number") throw new Error(`sandbox handle has no ${key}`);
  return v;
}
