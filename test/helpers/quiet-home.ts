/**
 * A HOME with an empty `.bashrc`, for tests that start bash sessions: what the machine's own startup files
 * do (a slow `pyenv init`, a history file) is not what they test, and must not slow them down or be changed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
