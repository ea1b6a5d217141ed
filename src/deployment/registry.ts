/**
 * Process-wide list of deployments that hold a sandbox right now. On SIGINT or SIGTERM every one of them is
 * stopped before the process goes away, so a Ctrl-C never leaks containers. (A SIGKILL cannot be caught:
 * `swerex reap` finds what such a process left, by the owner labels.)
 */

/** What the registry needs from a deployment. */
export interface StoppableDeployment {
  stop(): Promise<void>;
  /** What this holds, for a user told it was left behind ("docker container NAME (ID)"). */
  describe?(): string;
}

const active = new Set<StoppableDeployment>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** Upper bound on cleanup after a signal; a stuck engine must not keep the process alive forever. */
let cleanupDeadlineMs = 30_000;
let installed = false;
let cleaning: Promise<void> | undefined;

/** Tracks `d` until `unregisterDeployment(d)`; installs the signal handlers on first use. */
export function registerDeployment(d: StoppableDeployment): void {
  active.add(d);
  if (!installed) {
    installed = true;
    for (const sig of SIGNALS) process.on(sig, onSignal);
  }
}

export function unregisterDeployment(d: StoppableDeployment): void {
  active.delete(d);
}

/** The deployments currently tracked (for tests and diagnostics). */
export function activeDeployments(): StoppableDeployment[] {
  return [...active];
}

/** Stops every tracked deployment concurrently, bounded by the cleanup deadline; never throws. */
export function stopAllDeployments(): Promise<void> {
  cleaning ??= (async () => {
    const all = [...active];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, cleanupDeadlineMs);
    });
    await Promise.race([Promise.allSettled(all.map((d) => d.stop())), deadline]);
    clearTimeout(timer);
    for (const d of all) active.delete(d);
  })().finally(() => {
    cleaning = undefined;
  });
  return cleaning;
}

/**
 * What the tracked deployments hold, one line each, for a process about to exit without stopping them.
 * Entries that describe nothing (internal drains) are left out; others fall back to their class name.
 */
export function describeActiveDeployments(): string[] {
  const lines: string[] = [];
  for (const d of active) {
    if (d.describe) lines.push(d.describe());
    else if (d.constructor !== Object) lines.push(`a ${d.constructor.name}`);
  }
  return lines;
}

export function setCleanupDeadlineMs(ms: number): void {
  cleanupDeadlineMs = ms;
}

function onSignal(signal: NodeJS.Signals): void {
  // Our handler replaced Node's default "exit on signal". When nobody else listens, restore that default
  // after cleanup by re-raising the signal, so the exit status still says "killed by SIGTERM".
  void stopAllDeployments().then(() => {
    const others = process.listeners(signal).filter((l) => l !== onSignal);
    if (others.length > 0) return;
    for (const sig of SIGNALS) process.off(sig, onSignal);
    installed = false;
    process.kill(process.pid, signal);
  });
}
