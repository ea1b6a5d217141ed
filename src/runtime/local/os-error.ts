/** Python-style `OSError` messages (`[Errno 2] No such file or directory: 'x'`) for Node system errors. */
import { constants } from "node:os";
import { ERRNO_CLASSES, SwerexError } from "../errors.js";
import { pyRepr } from "./pyrepr.js";

const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EEXIST: "File exists",
  ENOEXEC: "Exec format error",
};

/** The error Python would raise for `code` on `path`; unknown codes give a plain `SwerexError` with the same text. */
export function osError(code: string, path: string, cause?: unknown): SwerexError {
  const errno = (constants.errno as Record<string, number>)[code] ?? 0;
  const text = STRERROR[code] ?? code;
  const cls = ERRNO_CLASSES[code] ?? SwerexError;
  return new cls(`[Errno ${errno}] ${text}: ${pyRepr(path)}`, { cause });
}

/** Rewrites a Node fs/spawn error about `path` as Python would report it; anything else passes through. */
export function asOsError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && code && code in STRERROR) return osError(code, path, err);
  return err;
}
