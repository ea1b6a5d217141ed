/**
 * A hand-written Runtime for unit tests of the rollout room: runs commands on this machine with child_process,
 * as LocalRuntime does, but without sessions. Tests that need the real deployment use `getDeployment`.
 */
import { execFile } from "node:child_process";
import { cp, readFile, writeFile } from "node:fs/promises";
import type {
  CommandInput,
  CommandResponse,
  IsAliveResponse,
  ReadFileRequestInput,
  ReadFileResponse,
  UploadRequest,
  WriteFileRequest,
} from "../../../src/runtime/protocol.js";
import type { Runtime } from "../../../src/runtime/runtime.js";

export class HostRuntime implements Runtime {
  executed: string[] = [];
  closed = false;

  async isAlive(): Promise<IsAliveResponse> {
    return { is_alive: !this.closed, message: "" };
  }
  async createSession(): Promise<never> {
    throw new Error("HostRuntime has no sessions");
  }
  async runInSession(): Promise<never> {
    throw new Error("HostRuntime has no sessions");
  }
  async closeSession(): Promise<never> {
    throw new Error("HostRuntime has no sessions");
  }
  execute(cmd: CommandInput): Promise<CommandResponse> {
    if (this.closed) return Promise.reject(new Error("runtime closed"));
    const argv = typeof cmd.command === "string" ? ["bash", "-c", cmd.command] : cmd.command;
    this.executed.push(argv.join(" "));
    return new Promise((resolve) => {
      execFile(
        argv[0] as string,
        argv.slice(1),
        {
          cwd: cmd.cwd ?? undefined,
          timeout: (cmd.timeout ?? 600) * 1000,
          maxBuffer: 64 << 20,
          killSignal: "SIGKILL",
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
          resolve(
            cmd.merge_output_streams
              ? { stdout: stdout + stderr, stderr: "", exit_code: code }
              : { stdout, stderr, exit_code: code },
          );
        },
      );
    });
  }
  async readFile(req: ReadFileRequestInput): Promise<ReadFileResponse> {
    return { content: await readFile(req.path, "utf8") };
  }
  async writeFile(req: WriteFileRequest): Promise<Record<string, never>> {
    await writeFile(req.path, req.content);
    return {};
  }
  async upload(req: UploadRequest): Promise<Record<string, never>> {
    await cp(req.source_path, req.target_path, { recursive: true });
    return {};
  }
  async close(): Promise<Record<string, never>> {
    this.closed = true;
    return {};
  }
}
