/** Process checks the tests of several rooms share: "is this pid still running", and waiting for it to go. */

/** Whether `pid` names a live process (signal 0 probes without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone or `timeoutMs` passes; true when it is gone. */
export async function waitForProcessGone(pid: number, timeoutMs = 20_000, pollMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, pollMs));
  return !processAlive(pid);
}
