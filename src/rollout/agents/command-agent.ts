/**
 * An external agent program (SWE-agent, mini-swe-agent, a script) run as a subprocess on this machine. It
 * reaches the model through its proxy session (`OPENAI_BASE_URL` / `OPENAI_API_BASE`) and gets a generated
 * SWE-agent config (SWEAgentConfigBuilder). On abort its whole process group gets SIGTERM, then SIGKILL after
 * `kill_timeout` seconds.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SweTask } from "../tasks/task.js";
import type { AgentConfig } from "./config.js";
import type { AgentRunResult } from "./result.js";
import { SWEAgentConfigBuilder } from "./swe-agent-config.js";

export interface CommandAgentInput {
  task: SweTask;
  /** The repository the agent works on. */
  workdir: string;
  baseUrl: string;
  sessionId: string;
  config: AgentConfig;
  /** A fresh directory on this machine for the config, the problem statement and the agent's output. */
  outputDir: string;
  signal: AbortSignal;
  /** SWE-agent's `env.deployment` in the generated config. */
  deployment?: Record<string, unknown>;
}

const TAIL = 8000;
/** bash's exit codes for "command not found" and "found but not executable". */
const SHELL_NOT_FOUND = 127;
const SHELL_NOT_EXECUTABLE = 126;

/** The seed's patch file locations: `<out>/<id>/<id>.patch`, `<out>/<id>.patch`, then any `<out>/*.patch`. */
export function outputPatchFile(outputDir: string, instanceId: string): () => Promise<string | null> {
  return async () => {
    for (const path of [
      join(outputDir, instanceId, `${instanceId}.patch`),
      join(outputDir, `${instanceId}.patch`),
    ]) {
      try {
        return await readFile(path, "utf8");
      } catch {
        // try the next location
      }
    }
    try {
      const any = (await readdir(outputDir)).filter((f) => f.endsWith(".patch")).sort()[0];
      return any ? await readFile(join(outputDir, any), "utf8") : null;
    } catch {
      return null;
    }
  };
}

/** The agent program's environment: this process's, the proxy session, and where its inputs are. */
export function commandAgentEnv(
  input: CommandAgentInput,
  configPath: string,
  problemPath: string,
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...input.config.env,
    OPENAI_BASE_URL: input.baseUrl,
    OPENAI_API_BASE: input.baseUrl,
    OPENAI_API_KEY: "swerex",
    // mini-swe-agent refuses unknown models' costs otherwise (rllm's harness sets the same).
    MSWEA_COST_TRACKING: "ignore_errors",
    SWEREX_SESSION_ID: input.sessionId,
    SWEREX_INSTANCE_ID: input.task.instance_id,
    SWEREX_WORKDIR: input.workdir,
    SWEREX_OUTPUT_DIR: input.outputDir,
    SWEREX_AGENT_CONFIG: configPath,
    SWEREX_PROBLEM_STATEMENT_FILE: problemPath,
    SWEREX_MODEL: input.config.model,
  };
}

export async function runCommandAgent(input: CommandAgentInput): Promise<AgentRunResult> {
  const { config, signal } = input;
  await mkdir(input.outputDir, { recursive: true });
  const builder = new SWEAgentConfigBuilder({
    instanceId: input.task.instance_id,
    repoPath: input.workdir,
    outputDir: input.outputDir,
    apiBase: input.baseUrl,
    agent: config,
    ...(input.deployment ? { deployment: input.deployment } : {}),
  });
  const configPath = join(input.outputDir, "swe-agent-config.yaml");
  const problemPath = join(input.outputDir, "problem_statement.md");
  await writeFile(configPath, builder.toYaml());
  await writeFile(problemPath, input.task.problem_statement);
  const readPatchFile = outputPatchFile(input.outputDir, input.task.instance_id);
  if (signal.aborted) return { exit_status: "cancelled", turns: 0, readPatchFile };

  const child = spawn("bash", ["-c", config.command ?? ""], {
    cwd: input.outputDir,
    env: commandAgentEnv(input, configPath, problemPath),
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so a kill reaches everything it started.
    detached: true,
  });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-TAIL);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once("error", (error) => resolve({ code: null, sig: null, error }));
      // "exit", not "close": a background process the agent left behind may hold its pipes open for ever.
      child.once("exit", (code, sig) => resolve({ code, sig }));
    },
  );
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const onAbort = () => {
    killGroup("SIGTERM");
    killTimer = setTimeout(() => killGroup("SIGKILL"), config.kill_timeout * 1000);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const { code, sig, error } = await exited;
    const base = { turns: 0, output_tail: tail, readPatchFile };
    if (signal.aborted)
      return { ...base, exit_status: "cancelled", error: String(signal.reason ?? "aborted") };
    if (error)
      return {
        ...base,
        exit_status: "agent_error",
        error: `could not start the agent command: ${error.message}`,
      };
    if (code === 0) return { ...base, exit_status: "submitted" };
    if (code === SHELL_NOT_FOUND || code === SHELL_NOT_EXECUTABLE) {
      return {
        ...base,
        exit_status: "agent_error",
        error: `the agent command was not found or is not executable (exit ${code}): ${tail.trim().split("\n").at(-1) ?? ""}`,
      };
    }
    return { ...base, exit_status: "agent_error", error: `the agent command exited with ${code ?? sig}` };
  } finally {
    signal.removeEventListener("abort", onAbort);
    clearTimeout(killTimer);
    // Whatever the agent left running in its group goes with it.
    killGroup("SIGKILL");
  }
}
