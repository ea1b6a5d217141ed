/**
 * Zips a directory's contents for `/upload` (upstream: `shutil.make_archive`, the archive holds what is
 * inside the directory, not the directory itself). Unix modes are stored, so the server can keep scripts
 * executable; symlinked files are followed, symlinked directories are not descended into.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Zippable, zipSync } from "fflate";

const UNIX_HOST = 3;

/** Zip "external attributes" of a Unix entry: file type and permissions in the high 16 bits. */
function unixAttrs(type: number, mode: number): number {
  return ((type | (mode & 0o777)) << 16) >>> 0;
}

async function collect(root: string, rel: string, out: Zippable): Promise<void> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
    const abs = join(root, relPath);
    const info = await stat(abs).catch(() => undefined);
    if (info === undefined) continue; // dangling symlink
    if (info.isDirectory()) {
      if (entry.isSymbolicLink()) continue;
      out[`${relPath}/`] = [new Uint8Array(0), { os: UNIX_HOST, attrs: unixAttrs(0o040000, info.mode) }];
      await collect(root, relPath, out);
    } else if (info.isFile()) {
      out[relPath] = [await readFile(abs), { os: UNIX_HOST, attrs: unixAttrs(0o100000, info.mode) }];
    }
  }
}

/** The zip archive of everything under `dir`. */
export async function zipDirectory(dir: string): Promise<Uint8Array> {
  const files: Zippable = {};
  await collect(dir, "", files);
  // Level 1: uploads are mostly source trees on a fast link; compression time dominates past that.
  return zipSync(files, { level: 1 });
}
