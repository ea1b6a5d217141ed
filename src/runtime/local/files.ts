/** `read_file`, `write_file` and the local `upload`, with Python's semantics and error classes. */
import { cp, readFile as fsReadFile, writeFile as fsWriteFile, mkdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { ReadFileRequest, UploadRequest, WriteFileRequest } from "../protocol.js";
import { decodeBytes, lookupEncoding, lookupErrors } from "./codec.js";
import { asOsError, osError } from "./os-error.js";

/** Python text mode reads with universal newlines: `\r\n` and a lone `\r` both become `\n`. */
function universalNewlines(s: string): string {
  return s.includes("\r") ? s.replace(/\r\n?/g, "\n") : s;
}

/** `Path(path).read_text(encoding, errors)`. */
export async function readTextFile(req: ReadFileRequest): Promise<string> {
  const encoding = lookupEncoding(req.encoding);
  const errors = lookupErrors(req.errors);
  let bytes: Buffer;
  try {
    bytes = await fsReadFile(req.path);
  } catch (e) {
    throw asOsError(e, req.path);
  }
  return universalNewlines(decodeBytes(bytes, encoding, errors));
}

/** Creates the parent directories, then `Path(path).write_text(content)` (UTF-8, overwrites). */
export async function writeTextFile(req: WriteFileRequest): Promise<void> {
  try {
    await mkdir(dirname(req.path), { recursive: true });
    await fsWriteFile(req.path, req.content, "utf8");
  } catch (e) {
    throw asOsError(e, req.path);
  }
}

/**
 * Copies on this machine: a directory like `shutil.copytree` (the target must not exist), a file like
 * `shutil.copy` (into the target if it is a directory). Unlike upstream's local upload, missing parent
 * directories of the target are created, as the HTTP server's upload does.
 */
export async function uploadLocal(req: UploadRequest): Promise<void> {
  let source: Awaited<ReturnType<typeof stat>>;
  try {
    source = await stat(req.source_path);
  } catch (e) {
    throw asOsError(e, req.source_path);
  }
  const targetStat = await stat(req.target_path).catch(() => undefined);
  try {
    if (source.isDirectory()) {
      if (targetStat) throw osError("EEXIST", req.target_path);
      await mkdir(dirname(req.target_path), { recursive: true });
      await cp(req.source_path, req.target_path, { recursive: true, errorOnExist: true, force: false });
    } else {
      const target = targetStat?.isDirectory()
        ? join(req.target_path, basename(req.source_path))
        : req.target_path;
      await mkdir(dirname(target), { recursive: true });
      await cp(req.source_path, target, { force: true });
    }
  } catch (e) {
    throw asOsError(e, req.target_path);
  }
}
