/**
 * A HOME with an empty `.bashrc`, for tests that start bash sessions: what the machine's own startup files
 * do (a slow `pyenv init`, a history file) is not what they test, and must not slow them down or be changed.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface QuietHome {
  path: string;
  remove(): Promise<void>;
}

export async function makeQuietHome(): Promise<QuietHome> {
  const path = await mkdtemp(join(tmpdir(), "swerex-quiet-home-"));
  await writeFile(join(path, ".bashrc"), "");
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
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
