/**
 * Kills every process of a terminal session. A pty's shell is a session leader; its jobs live in their own
 * process groups of that session, so neither killing the shell nor its group reaches them. Linux only
 * (reads /proc); elsewhere it does nothing and returns 0.
 */
import { readdir, readFile } from "node:fs/promises";

/** The session id in a /proc/<pid>/stat line: the 4th field after the parenthesised command name. */
function sessionOf(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const sid = Number(fields[3]);
  return Number.isInteger(sid) ? sid : undefined;
}

/** Sends SIGKILL to every process whose session id is `sid`; returns how many it signalled. */
export async function killSession(sid: number): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return 0;
  }
  let killed = 0;
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (sessionOf(await readFile(`/proc/${name}/stat`, "utf8")) !== sid) continue;
      process.kill(Number(name), "SIGKILL");
      killed++;
    } catch {
      // gone in the meantime, or not ours to read
    }
  }
  return killed;
}
