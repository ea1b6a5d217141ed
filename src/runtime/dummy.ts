/**
 * DummyRuntime (SWE-ReX `runtime/dummy.py`): canned answers, for tests of code that sits on top of a Runtime
 * (agents, deployments, servers) without starting a shell.
 */
import type { z } from "zod";
import { DummyOutputsExhaustedError, PythonValueError } from "./errors.js";
import { pyStrRepr } from "./local/index.js";
import {
  Action,
  type ActionInput,
  BashObservation,
  type CloseResponse,
  type CloseSessionRequestInput,
  type CloseSessionResponse,
  type CommandInput,
  type CommandResponse,
  type CreateSessionRequestInput,
  type CreateSessionResponse,
  type IsAliveResponse,
  type Observation,
  type ReadFileRequestInput,
  type ReadFileResponse,
  type UploadRequest,
  type UploadResponse,
  type WriteFileRequest,
  type WriteFileResponse,
} from "./protocol.js";
import type { IsAliveOptions, Runtime } from "./runtime.js";

export type BashObservationInput = z.input<typeof BashObservation>;

export interface DummyRuntimeOptions {
  /**
   * One observation returned for every action, or a queue answered front first (an empty queue throws
   * `DummyOutputsExhaustedError`). Default: `{exit_code: 0}` every time.
   */
  runInSessionOutputs?: BashObservationInput | BashObservationInput[];
}

function checkSessionType(req: { session_type?: string }): void {
  const type = req.session_type ?? "bash";
  if (type !== "bash") throw new PythonValueError(`unknown session type: ${pyStrRepr(type)}`);
}

export class DummyRuntime implements Runtime {
  runInSessionOutputs: BashObservationInput | BashObservationInput[];

  constructor(opts: DummyRuntimeOptions = {}) {
    this.runInSessionOutputs = opts.runInSessionOutputs ?? { exit_code: 0 };
  }

  async isAlive(_opts?: IsAliveOptions): Promise<IsAliveResponse> {
    return { is_alive: true, message: "" };
  }

  async createSession(req: CreateSessionRequestInput): Promise<CreateSessionResponse> {
    checkSessionType(req);
    return { output: "", session_type: "bash" };
  }

  async runInSession(input: ActionInput): Promise<Observation> {
    const action = Action.parse(input);
    if (!Array.isArray(this.runInSessionOutputs)) return BashObservation.parse(this.runInSessionOutputs);
    const next = this.runInSessionOutputs.shift();
    if (next === undefined) {
      const command = action.action_type === "bash" ? action.command : "";
      throw new DummyOutputsExhaustedError(
        `Dummy runtime's run_in_session_outputs list is empty: No output for ${pyStrRepr(command)}`,
      );
    }
    return BashObservation.parse(next);
  }

  async closeSession(req: CloseSessionRequestInput): Promise<CloseSessionResponse> {
    checkSessionType(req);
    return { session_type: "bash" };
  }

  async execute(_cmd: CommandInput): Promise<CommandResponse> {
    return { stdout: "", stderr: "", exit_code: 0 };
  }

  async readFile(_req: ReadFileRequestInput): Promise<ReadFileResponse> {
    return { content: "" };
  }

  async writeFile(_req: WriteFileRequest): Promise<WriteFileResponse> {
    return {};
  }

  async upload(_req: UploadRequest): Promise<UploadResponse> {
    return {};
  }

  async close(): Promise<CloseResponse> {
    return {};
  }
}
