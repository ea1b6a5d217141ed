/**
 * `LocalRuntime`: runs everything on this machine (inside the sandbox, behind `swerex-remote`). Bash
 * sessions on real ptys, one-off commands, file I/O and local copies; SWE-ReX 1.4's behaviour with the
 * fixes listed in docs/local-runtime.md.
 */
import type { Logger } from "pino";
import { PythonValueError, SessionDoesNotExistError, SessionExistsError, SwerexError } from "../errors.js";
import {
  Action,
  type ActionInput,
  type CloseResponse,
  CloseSessionRequest,
  type CloseSessionRequestInput,
  type CloseSessionResponse,
  Command,
  type CommandInput,
  type CommandResponse,
  CreateSessionRequest,
  type CreateSessionRequestInput,
  type CreateSessionResponse,
  type IsAliveResponse,
  type Observation,
  ReadFileRequest,
  type ReadFileRequestInput,
  type ReadFileResponse,
  UploadRequest,
  type UploadResponse,
  WriteFileRequest,
  type WriteFileResponse,
} from "../protocol.js";
import type { Runtime } from "../runtime.js";
import { findBash } from "./bash-binary.js";
import { BashSession } from "./bash-session.js";
import { executeCommand } from "./execute.js";
import { readTextFile, uploadLocal, writeTextFile } from "./files.js";
import { DEFAULT_MAX_OUTPUT_CHARS } from "./pty-expect.js";
import { pyRepr } from "./pyrepr.js";

export interface LocalRuntimeOptions {
  logger?: Logger;
  /**
   * Most bash sessions open (or starting) at once; one more is refused with a clear error. Each session
   * is a bash process and a pty. Default DEFAULT_MAX_SESSIONS.
   */
  maxSessions?: number;
  /**
   * Output kept per action: characters of a session command's output, bytes of each `execute` stream
   * (first and last halves, the middle replaced by a note). Default DEFAULT_MAX_OUTPUT_CHARS.
   */
  maxOutput?: number;
}

/** Enough for any agent (SWE-agent uses one session); 1000 unbounded sessions cost ~4 GB of bash processes. */
export const DEFAULT_MAX_SESSIONS = 64;

export class LocalRuntime implements Runtime {
  private readonly sessions = new Map<string, BashSession>();
  /** Names whose session is still starting: taken, but not yet runnable. */
  private readonly starting = new Set<string>();
  private executions = new AbortController();
  private readonly logger: Logger | undefined;
  readonly maxSessions: number;
  readonly maxOutput: number;

  constructor(opts: LocalRuntimeOptions = {}) {
    this.logger = opts.logger;
    this.maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxOutput = opts.maxOutput ?? DEFAULT_MAX_OUTPUT_CHARS;
  }

  async isAlive(): Promise<IsAliveResponse> {
    return { is_alive: true, message: "" };
  }

  /** The names of the open sessions. */
  get sessionNames(): string[] {
    return [...this.sessions.keys()];
  }

  async createSession(input: CreateSessionRequestInput): Promise<CreateSessionResponse> {
    const req = CreateSessionRequest.parse(input);
    if (req.session_type !== "bash")
      throw new PythonValueError(`unknown session type: ${JSON.stringify(req)}`);
    if (this.sessions.has(req.session) || this.starting.has(req.session)) {
      throw new SessionExistsError(`session ${req.session} already exists`);
    }
    if (this.sessions.size + this.starting.size >= this.maxSessions) {
      throw new SwerexError(
        `cannot create session ${pyRepr(req.session)}: ${this.maxSessions} sessions are already open, the limit ` +
          "(close some with close_session, or raise it: swerex-remote --max-sessions N / SWEREX_MAX_SESSIONS)",
        { extraInfo: { max_sessions: this.maxSessions } },
      );
    }
    // Unlike upstream, a session that fails to start does not keep its name: the caller can retry.
    this.starting.add(req.session);
    try {
      const { session, output } = await BashSession.start(req, {
        bash: findBash(),
        logger: this.logger,
        maxOutputChars: this.maxOutput,
      });
      this.sessions.set(req.session, session);
      this.logger?.debug({ session: req.session }, "bash session started");
      return { output, session_type: "bash" };
    } finally {
      this.starting.delete(req.session);
    }
  }

  async runInSession(input: ActionInput): Promise<Observation> {
    const action = Action.parse(input);
    return this.session(action.session).run(action);
  }

  async closeSession(input: CloseSessionRequestInput): Promise<CloseSessionResponse> {
    const req = CloseSessionRequest.parse(input);
    const session = this.session(req.session);
    this.sessions.delete(req.session);
    await session.close();
    this.logger?.debug({ session: req.session }, "bash session closed");
    return { session_type: "bash" };
  }

  async execute(input: CommandInput): Promise<CommandResponse> {
    return executeCommand(Command.parse(input), {
      signal: this.executions.signal,
      maxOutputBytes: this.maxOutput,
    });
  }

  async readFile(input: ReadFileRequestInput): Promise<ReadFileResponse> {
    return { content: await readTextFile(ReadFileRequest.parse(input)) };
  }

  async writeFile(input: WriteFileRequest): Promise<WriteFileResponse> {
    await writeTextFile(WriteFileRequest.parse(input));
    return {};
  }

  async upload(input: UploadRequest): Promise<UploadResponse> {
    await uploadLocal(UploadRequest.parse(input));
    return {};
  }

  /**
   * Closes every session and kills every running `execute`. Unlike upstream, the sessions are also
   * forgotten, so the runtime stays usable: `createSession({session: "default"})` works again afterwards.
   */
  async close(): Promise<CloseResponse> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    this.executions.abort();
    this.executions = new AbortController();
    await Promise.all(sessions.map((s) => s.close()));
    return {};
  }

  private session(name: string): BashSession {
    const s = this.sessions.get(name);
    if (!s) throw new SessionDoesNotExistError(`session ${pyRepr(name)} does not exist`);
    return s;
  }
}
