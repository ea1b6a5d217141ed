/**
 * The Runtime contract: what every sandbox offers (SWE-ReX's `AbstractRuntime`). Methods take the `*Input`
 * shapes, so callers may leave out anything that has a default; implementations parse with the zod schemas.
 */
import type {
  ActionInput,
  CloseResponse,
  CloseSessionRequestInput,
  CloseSessionResponse,
  CommandInput,
  CommandResponse,
  CreateSessionRequestInput,
  CreateSessionResponse,
  IsAliveResponse,
  Observation,
  ReadFileRequestInput,
  ReadFileResponse,
  UploadRequest,
  UploadResponse,
  WriteFileRequest,
  WriteFileResponse,
} from "./protocol.js";

export interface IsAliveOptions {
  /** How long to wait for an answer, in milliseconds. */
  timeoutMs?: number;
}

export interface Runtime {
  /** Never throws: a runtime that cannot be reached answers `{is_alive: false, message}`. */
  isAlive(opts?: IsAliveOptions): Promise<IsAliveResponse>;
  createSession(req: CreateSessionRequestInput): Promise<CreateSessionResponse>;
  /** Runs a `BashAction` or a `BashInterruptAction` in the session the action names. */
  runInSession(action: ActionInput): Promise<Observation>;
  closeSession(req: CloseSessionRequestInput): Promise<CloseSessionResponse>;
  execute(cmd: CommandInput): Promise<CommandResponse>;
  readFile(req: ReadFileRequestInput): Promise<ReadFileResponse>;
  writeFile(req: WriteFileRequest): Promise<WriteFileResponse>;
  /** Copies `source_path` on the caller's machine to `target_path` in the sandbox (files and directories). */
  upload(req: UploadRequest): Promise<UploadResponse>;
  close(): Promise<CloseResponse>;
}
