/**
 * Extracts an uploaded zip into a directory (the `unzip=true` branch of `/upload`). Refuses archives whose
 * entries would land outside the target (zip-slip) before writing anything, and restores the Unix
 * permission bits a zip made on Unix carries, so uploaded scripts stay executable.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { unzipSync } from "fflate";
import { PythonValueError } from "../runtime/errors.js";

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const UNIX_HOST = 3;

/** Reads the Unix mode of each entry from the central directory (fflate does not expose it). */
export function readUnixModes(zip: Uint8Array): Map<string, number> {
  const modes = new Map<string, number>();
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return modes;
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const utf8 = new TextDecoder();
  const latin1 = new TextDecoder("latin1");
  for (let n = 0; n < count && at + 46 <= zip.length; n++) {
    if (view.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) break;
    const host = view.getUint8(at + 5);
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const external = view.getUint32(at + 38, true);
    const nameBytes = zip.subarray(at + 46, at + 46 + nameLength);
    const name = (flags & 0x800 ? utf8 : latin1).decode(nameBytes);
    const mode = external >>> 16;
    if (host === UNIX_HOST && mode !== 0) modes.set(name, mode);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return modes;
}

/** Where an entry goes under `root`, or an error if it would escape it. */
function destinationOf(root: string, name: string): string {
  const dest = resolve(root, name);
  if (isAbsolute(name) || (dest !== root && !dest.startsWith(root + sep))) {
    throw new PythonValueError(
      `Refusing to extract zip entry ${JSON.stringify(name)}: it points outside ${root}`,
    );
  }
  return dest;
}

/** Extracts `zip` into `targetDir` (created if missing). Existing files are overwritten. */
export async function extractZip(zip: Uint8Array, targetDir: string): Promise<void> {
  const root = resolve(targetDir);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (err) {
    throw new PythonValueError(`Uploaded file is not a valid zip archive: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const modes = readUnixModes(zip);
  const plan = Object.entries(entries).map(([name, data]) => ({
    name,
    data,
    dest: destinationOf(root, name),
  }));
  await mkdir(root, { recursive: true });
  for (const { name, data, dest } of plan) {
    if (name.endsWith("/")) {
      await mkdir(dest, { recursive: true });
      continue;
    }
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, data);
    const mode = modes.get(name);
    // Only regular files (S_IFREG); like Python's zipfile, anything else is written as plain content.
    if (mode !== undefined && (mode & 0o170000) === 0o100000) await chmod(dest, mode & 0o777);
  }
}
