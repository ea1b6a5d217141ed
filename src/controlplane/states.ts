/**
 * The sandbox state machine, as one function: `transition(from, to)` returns `to` when the move is allowed
 * and throws {@link InvalidTransitionError} otherwise. Every state change the service writes goes through it.
 *
 *   queued -> starting -> running <-> paused -> stopping -> stopped
 *   starting -> failed (never started);  running|paused|starting|stopping -> lost (the backend vanished)
 */
import type { SandboxState } from "../store/types.js";

const MOVES: Readonly<Record<SandboxState, readonly SandboxState[]>> = {
  queued: ["starting", "stopping", "failed"],
  starting: ["running", "stopping", "failed", "lost"],
  running: ["paused", "stopping", "lost"],
  paused: ["running", "stopping", "lost"],
  // A stop that could not reach the backend stays `stopping` and is retried; a vanished backend is `lost`.
  stopping: ["stopped", "lost"],
  stopped: [],
  failed: [],
  lost: [],
};

/** States in which the sandbox holds (or may hold) a backend resource: they count against the limits. */
export const ACTIVE_STATES: readonly SandboxState[] = ["queued", "starting", "running", "paused", "stopping"];
/** Active states minus `queued`: the sandbox holds (or is about to hold) a backend resource and room. */
export const HOLDING_STATES: readonly SandboxState[] = ["starting", "running", "paused", "stopping"];
/** States that never change again. */
export const TERMINAL_STATES: readonly SandboxState[] = ["stopped", "failed", "lost"];

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: SandboxState,
    readonly to: SandboxState,
  ) {
    super(`a sandbox cannot go from ${from} to ${to}`);
    this.name = "InvalidTransitionError";
  }
}

export function canTransition(from: SandboxState, to: SandboxState): boolean {
  return MOVES[from].includes(to);
}

export function transition(from: SandboxState, to: SandboxState): SandboxState {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
  return to;
}

export function isTerminal(state: SandboxState): boolean {
  return TERMINAL_STATES.includes(state);
}
