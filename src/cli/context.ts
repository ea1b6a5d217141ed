/** What the `swerex` dispatcher hands every command (a module of its own, so commands never import the dispatcher). */
export interface CommandContext {
  /** Aborted on the first SIGINT/SIGTERM: cancel work in progress (e.g. a deployment start). */
  signal?: AbortSignal;
}
