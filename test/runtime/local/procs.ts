/** Finding test processes by a unique argument (e.g. `sleep 1000.123`), to prove they are gone. Linux. */
import { readdir, readFile } from "node:fs/promises";

/** The pids of live processes whose command line contains one of `marks` (zombies excluded). */
export async function processesWith(marks: string[]): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = (await readFile(`/proc/${name}/cmdline`, "utf8")).split("\0");
      if (!marks.some((m) => cmdline.includes(m))) continue;
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** `processesWith(marks)` once it is empty, or what is left after `ms` (SIGKILLed processes take a moment). */
export async function processesLeft(marks: string[], ms = 10_000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = await processesWith(marks);
    if (left.length === 0 || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}
