import type { SandboxBackend } from "./backends/types.js";
import type { TimestampStyle } from "./timefmt.js";

export interface EmulatorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What the tool and instance stores share: clock, timing knobs, the backend and background-work tracking. */
export interface EmulatorContext {
  now(): number;
  timestampStyle: TimestampStyle;
  backend: SandboxBackend;
  /** CREATING → ACTIVE and DELETING → gone. */
  toolTransitionMs: number;
  /** Delay before the backend starts (uniform in [min, max]), emulating scheduling and image pull. */
  startMs: [number, number];
  /** STOPPING, PAUSING and RESUMING last at least this long. */
  transitionMs: number;
  tokenTtlSeconds: number;
  instanceQuota: number;
  /** Whether STOPPED records count against the quota (the real service was seen doing so). */
  quotaCountsStopped: boolean;
  logger: EmulatorLogger | undefined;
  /** Runs work in the background; close() waits for it. Errors are logged, never thrown. */
  track(label: string, work: () => Promise<void>): void;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
