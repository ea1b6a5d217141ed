/**
 * The private temporary directories of this process's sessions (`$TMPDIR/swerex-XXXXXX`) and `execute`
 * calls (`$TMPDIR/swerex-exec-XXXXXX`), each marked with its owner, so that `swerex reap` can remove the
 * ones a killed process left behind without ever touching a live process's directory.
 *
 * The marker holds the owner's pid and its start time (field 22 of /proc/PID/stat, clock ticks since
 * boot): a pid that was recycled by another process does not count as the owner still running.
 */

import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The marker file inside each directory. */
export const OWNER_MARKER = ".swerex-owner";
/** Prefixes of the directories we create; `swerex-` covers `swerex-exec-` too. */
const PREFIX = "swerex-";

/** Field 22 of /proc/PID/stat (start time), or undefined when the process does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are plain.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** `mkdtemp($TMPDIR/<prefix>)` with this process's owner marker in it. */
export async function makeOwnedTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, OWNER_MARKER), `${process.pid} ${processStartTime(process.pid) ?? ""}\n`, {
    mode: 0o600,
  });
  return dir;
}

/** Whether the process named by a marker's text is gone (a recycled pid counts as gone). */
function ownerGone(marker: string): boolean {
  const [pidText, start] = marker.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false; // not a marker we wrote: leave the directory alone
  const now = processStartTime(pid);
  return now === undefined || (start !== undefined && start !== "" && start !== now);
}

export interface LeftoverTempDir {
  path: string;
  /** The owner pid from the marker. */
  pid: number;
  /** `removed`, or `failed` with a reason. A dry run reports `found`. */
  action: "removed" | "found" | "failed";
  error?: string;
}

/**
 * Removes (or, with `dryRun`, lists) the `swerex-*` directories in `dir` (default: the temp directory)
 * whose marker names a process that is gone. Directories without a marker (other programs', or from
 * before markers existed) and those of live processes are left alone.
 */
export async function reapTempDirs(
  opts: { dir?: string; dryRun?: boolean } = {},
): Promise<LeftoverTempDir[]> {
  const base = opts.dir ?? tmpdir();
  const found: LeftoverTempDir[] = [];
  let names: string[];
  try {
    names = await readdir(base);
  } catch {
    return found;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(base, name);
    let marker: string;
    try {
      marker = await readFile(join(path, OWNER_MARKER), "utf8");
    } catch {
      continue; // no marker, or not a directory
    }
    if (!ownerGone(marker)) continue;
    const entry: LeftoverTempDir = { path, pid: Number(marker.trim().split(" ")[0]), action: "found" };
    found.push(entry);
    if (opts.dryRun) continue;
    try {
      await rm(path, { recursive: true, force: true });
      entry.action = "removed";
    } catch (err) {
      entry.action = "failed";
      entry.error = (err as Error).message;
    }
  }
  return found;
}
