/**
 * SWE-ReX's exception hierarchy as TS classes, and the HTTP 511 `{"swerexception": {...}}` envelope in both
 * directions. Each class carries the Python `class_path` a SWE-ReX peer uses for it, so a Python client sees
 * `swerex.exceptions.CommandTimeoutError` from our server and our client re-raises a Python server's errors
 * as the matching TS class.
 */
import type { ExceptionTransfer } from "./protocol.js";

export type ExtraInfo = Record<string, unknown>;

export interface SwerexErrorOptions {
  extraInfo?: ExtraInfo;
  cause?: unknown;
}

export class SwerexError extends Error {
  static readonly classPath: string = "swerex.exceptions.SwerexException";
  extraInfo: ExtraInfo;

  constructor(message = "", opts: SwerexErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.extraInfo = opts.extraInfo ?? {};
  }

  /** The Python class path a SWE-ReX peer knows this error by. */
  get classPath(): string {
    return (this.constructor as typeof SwerexError).classPath;
  }
}

/** Declares a SWE-ReX exception class with its Python class path. */
function swerex(name: string): string {
  return `swerex.exceptions.${name}`;
}

export class SessionNotInitializedError extends SwerexError {
  static override readonly classPath = swerex("SessionNotInitializedError");
}
export class NonZeroExitCodeError extends SwerexError {
  static override readonly classPath = swerex("NonZeroExitCodeError");
}
export class BashIncorrectSyntaxError extends SwerexError {
  static override readonly classPath = swerex("BashIncorrectSyntaxError");
}
export class CommandTimeoutError extends SwerexError {
  static override readonly classPath = swerex("CommandTimeoutError");
}
export class NoExitCodeError extends SwerexError {
  static override readonly classPath = swerex("NoExitCodeError");
}
export class SessionExistsError extends SwerexError {
  static override readonly classPath = swerex("SessionExistsError");
}
export class SessionDoesNotExistError extends SwerexError {
  static override readonly classPath = swerex("SessionDoesNotExistError");
}
export class DeploymentNotStartedError extends SwerexError {
  static override readonly classPath = swerex("DeploymentNotStartedError");
  constructor(message = "Deployment not started", opts: SwerexErrorOptions = {}) {
    super(message, opts);
  }
}
export class DeploymentStartupError extends SwerexError {
  static override readonly classPath = swerex("DeploymentStartupError");
}
export class DockerPullError extends DeploymentStartupError {
  static override readonly classPath = swerex("DockerPullError");
}
export class DummyOutputsExhaustedError extends SwerexError {
  static override readonly classPath = swerex("DummyOutputsExhaustedError");
}
/** The sandbox behind a runtime cannot be reached (AGS forks). */
export class EnvironmentUnavailableError extends SwerexError {
  static override readonly classPath = swerex("EnvironmentUnavailableError");
}
/** The sandbox is gone: expired or stopped (AGS gateway 404). */
export class EnvironmentExpiredError extends EnvironmentUnavailableError {
  static override readonly classPath = swerex("EnvironmentExpiredError");
}

/* Python built-ins and pexpect errors that SWE-ReX servers send as they are. */
export class PythonValueError extends SwerexError {
  static override readonly classPath: string = "builtins.ValueError";
}
export class PythonRuntimeError extends SwerexError {
  static override readonly classPath: string = "builtins.RuntimeError";
}
export class PythonTimeoutError extends SwerexError {
  static override readonly classPath: string = "builtins.TimeoutError";
}
export class FileNotFoundError extends SwerexError {
  static override readonly classPath = "builtins.FileNotFoundError";
}
export class IsADirectoryError extends SwerexError {
  static override readonly classPath = "builtins.IsADirectoryError";
}
export class NotADirectoryError extends SwerexError {
  static override readonly classPath = "builtins.NotADirectoryError";
}
export class PermissionError extends SwerexError {
  static override readonly classPath = "builtins.PermissionError";
}
export class FileExistsError extends SwerexError {
  static override readonly classPath = "builtins.FileExistsError";
}
export class UnicodeDecodeError extends PythonValueError {
  static override readonly classPath = "builtins.UnicodeDecodeError";
}
export class LookupError extends SwerexError {
  static override readonly classPath = "builtins.LookupError";
}
/** pexpect's TIMEOUT: bash session startup ran out of time, or an interrupt failed. */
export class PexpectTimeoutError extends SwerexError {
  static override readonly classPath = "pexpect.exceptions.TIMEOUT";
}
/** pexpect's EOF: the shell behind a session died. */
export class PexpectEOFError extends SwerexError {
  static override readonly classPath = "pexpect.exceptions.EOF";
}

type ErrorClass = typeof SwerexError;

const registry = new Map<string, ErrorClass>();
for (const cls of [
  SwerexError,
  SessionNotInitializedError,
  NonZeroExitCodeError,
  BashIncorrectSyntaxError,
  CommandTimeoutError,
  NoExitCodeError,
  SessionExistsError,
  SessionDoesNotExistError,
  DeploymentNotStartedError,
  DeploymentStartupError,
  DockerPullError,
  DummyOutputsExhaustedError,
  EnvironmentUnavailableError,
  EnvironmentExpiredError,
  PythonValueError,
  PythonRuntimeError,
  PythonTimeoutError,
  FileNotFoundError,
  IsADirectoryError,
  NotADirectoryError,
  PermissionError,
  FileExistsError,
  UnicodeDecodeError,
  LookupError,
  PexpectTimeoutError,
  PexpectEOFError,
] as ErrorClass[]) {
  registry.set(cls.classPath, cls);
}

/** The Python built-in a SWE-ReX peer expects for each Node system error code. */
export const ERRNO_CLASSES: Readonly<Record<string, ErrorClass>> = {
  ENOENT: FileNotFoundError,
  EISDIR: IsADirectoryError,
  ENOTDIR: NotADirectoryError,
  EACCES: PermissionError,
  EPERM: PermissionError,
  EEXIST: FileExistsError,
};

/** Maps a Node system error (`ENOENT`, ...) to the Python built-in a SWE-ReX peer expects. */
export function fromNodeError(err: unknown): unknown {
  if (err instanceof SwerexError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const cls = code ? ERRNO_CLASSES[code] : undefined;
  return cls ? new cls(err.message, { cause: err }) : err;
}

/** The 511 body for any error. Errors that are not ours travel as `builtins.RuntimeError`-like generic ones. */
export function toExceptionTransfer(err: unknown): ExceptionTransfer {
  const mapped = fromNodeError(err);
  if (mapped instanceof SwerexError) {
    return {
      message: mapped.message,
      class_path: mapped.classPath,
      traceback: mapped.stack ?? "",
      extra_info: mapped.extraInfo,
    };
  }
  const e = mapped instanceof Error ? mapped : new Error(String(mapped));
  return { message: e.message, class_path: "builtins.Exception", traceback: e.stack ?? "", extra_info: {} };
}

/**
 * Rebuilds the error a server sent. An unknown class path becomes a plain `SwerexError` that still names the
 * remote class in `remoteClassPath`, so nothing the server said is lost.
 */
export function fromExceptionTransfer(t: ExceptionTransfer): SwerexError {
  const cls = registry.get(t.class_path);
  const err = cls
    ? new cls(t.message, { extraInfo: t.extra_info })
    : new SwerexError(t.message, { extraInfo: t.extra_info });
  if (!cls) (err as SwerexError & { remoteClassPath?: string }).remoteClassPath = t.class_path;
  if (t.traceback) (err as SwerexError & { remoteTraceback?: string }).remoteTraceback = t.traceback;
  return err;
}

/** Registers another error class (for extensions), so its class path survives the HTTP round trip. */
export function registerErrorClass(cls: ErrorClass): void {
  registry.set(cls.classPath, cls);
}
