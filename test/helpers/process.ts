/** Process checks the tests of several rooms share: "is this pid still running", waiting for it to go, its memory. */
import { readFile } from "node:fs/promises";

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

/** Resident memory of a process in bytes (Linux /proc), or undefined when it cannot be read. */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
