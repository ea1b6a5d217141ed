/**
 * The built-in bash agent (mini-swe-agent's loop): system prompt and task, then per turn one model reply with
 * exactly one fenced bash block, run in the sandbox, its output back as the next user message. It ends when a
 * command prints the submit sentinel, at `max_turns`, when the proxy refuses past `max_steps`, or on abort.
 */
import { randomUUID } from "node:crypto";
import type { Runtime } from "../../runtime/runtime.js";
import { runShell, shQuote } from "../tasks/sandbox.js";
import type { SweTask } from "../tasks/task.js";
import type { ChatMessage } from "../types.js";
import { chatCompletion, ModelCallError } from "./chat-client.js";
import type { AgentConfig } from "./config.js";
import { DEFAULT_INSTANCE_TEMPLATE, DEFAULT_SYSTEM_TEMPLATE, renderTemplate } from "./prompts.js";
import type { AgentRunResult } from "./result.js";
import { AGENT_ENV_VARIABLES } from "./swe-agent-config.js";

export interface BashAgentInput {
  runtime: Runtime;
  task: SweTask;
  workdir: string;
  /** The proxy session's OpenAI base URL. */
  baseUrl: string;
  config: AgentConfig;
  signal: AbortSignal;
}

const BLOCK = /```(?:bash|sh)?[ \t]*\n([\s\S]*?)\n?```/g;

export type ParsedAction = { command: string } | { error: string };

/** Finds the single bash block of a reply. */
export function parseAction(content: string): ParsedAction {
  const blocks = [...content.matchAll(BLOCK)].map((m) => m[1] ?? "");
  if (blocks.length === 1 && (blocks[0] as string).trim()) return { command: (blocks[0] as string).trim() };
  return {
    error: `Your reply must contain exactly ONE \`\`\`bash block with the command to run; it had ${blocks.length}. Reply again in the required format.`,
  };
}

/** Keeps the head and tail of a long output, saying how much was cut. */
export function truncateOutput(output: string, max: number): string {
  if (output.length <= max) return output;
  const half = Math.floor(max / 2);
  return `${output.slice(0, half)}\n[... ${output.length - 2 * half} characters elided ...]\n${output.slice(-half)}`;
}

function contentText(message: ChatMessage): string {
  if (typeof message.content === "string") return message.content;
  if (Array.isArray(message.content)) return message.content.map((p) => p.text ?? "").join("");
  return "";
}

/** Exit code of coreutils `timeout` when it had to stop the command. */
const TIMED_OUT = [124, 137];

/**
 * `timeout` inside the sandbox kills the command's whole process tree even if the runtime's own timeout only
 * gives up waiting (the runtime gets a little longer so that ours fires first). `timeout` leads its own
 * process group and, through `exec`, has the shell's pid, which goes to `pidFile` so that an abort can kill the
 * group at once.
 */
async function runAction(
  input: BashAgentInput,
  command: string,
  pidFile: string,
): Promise<{ output: string; exitCode: number | null }> {
  const t = input.config.execution_timeout;
  const script = `echo $$ > ${shQuote(pidFile)}; exec timeout -k 5 ${t} bash -c ${shQuote(command)} </dev/null`;
  const res = await runShell(input.runtime, script, {
    cwd: input.workdir,
    timeout: t + 15,
    env: { ...AGENT_ENV_VARIABLES, ...input.config.env },
  });
  if (res.exitCode !== null && TIMED_OUT.includes(res.exitCode)) {
    return {
      output: `${res.output}\nThe command timed out after ${t} seconds and was killed.`,
      exitCode: res.exitCode,
    };
  }
  return res;
}

export async function runBashAgent(input: BashAgentInput): Promise<AgentRunResult> {
  // On abort the running command's process group is killed right away: stopping a `local` deployment does
  // not end the processes it started.
  const pidFile = `/tmp/swerex-agent-${randomUUID()}.pid`;
  const killRunning = () => {
    const pid = `"$(cat ${shQuote(pidFile)} 2>/dev/null)"`;
    runShell(input.runtime, `[ -n ${pid} ] && kill -KILL -- -${pid}; rm -f ${shQuote(pidFile)}`, {
      timeout: 10,
    }).catch(() => undefined);
  };
  input.signal.addEventListener("abort", killRunning, { once: true });
  try {
    return await agentLoop(input, pidFile);
  } finally {
    input.signal.removeEventListener("abort", killRunning);
    if (!input.signal.aborted) {
      await runShell(input.runtime, `rm -f ${shQuote(pidFile)}`, { timeout: 10 }).catch(() => undefined);
    }
  }
}

async function agentLoop(input: BashAgentInput, pidFile: string): Promise<AgentRunResult> {
  const { config, task, signal } = input;
  const vars = {
    working_dir: input.workdir,
    problem_statement: task.problem_statement,
    submit_sentinel: config.submit_sentinel,
  };
  const messages: ChatMessage[] = [
    { role: "system", content: renderTemplate(config.system_template ?? DEFAULT_SYSTEM_TEMPLATE, vars) },
    { role: "user", content: renderTemplate(config.instance_template ?? DEFAULT_INSTANCE_TEMPLATE, vars) },
  ];
  let turns = 0;
  let formatErrors = 0;
  const end = (
    exit_status: AgentRunResult["exit_status"],
    extra: Partial<AgentRunResult> = {},
  ): AgentRunResult => ({
    exit_status,
    turns,
    messages,
    ...extra,
  });

  while (turns < config.max_turns) {
    if (signal.aborted) return end("cancelled", { error: String(signal.reason ?? "aborted") });
    let reply: ChatMessage;
    try {
      const body = {
        model: config.model,
        messages,
        ...(config.temperature === undefined ? {} : { temperature: config.temperature }),
      };
      reply = (await chatCompletion(input.baseUrl, body, signal)).message;
    } catch (err) {
      if (signal.aborted) return end("cancelled", { error: String(signal.reason ?? "aborted") });
      if (err instanceof ModelCallError && err.type === "max_steps_exceeded")
        return end("max_steps", { error: err.message });
      return end("model_error", { error: (err as Error).message });
    }
    turns++;
    const content = contentText(reply);
    messages.push({ role: "assistant", content });
    const action = parseAction(content);
    if ("error" in action) {
      formatErrors++;
      if (formatErrors >= config.max_format_errors) {
        return end("format_error", {
          error: `${formatErrors} replies in a row without exactly one bash block`,
        });
      }
      messages.push({ role: "user", content: action.error });
      continue;
    }
    formatErrors = 0;
    if (action.command === "submit") return end("submitted", { submission: "" });
    let output: string;
    let exitCode: number | null;
    try {
      ({ output, exitCode } = await runAction(input, action.command, pidFile));
    } catch (err) {
      if (signal.aborted) return end("cancelled", { error: String(signal.reason ?? "aborted") });
      return end("agent_error", {
        error: `running the command in the sandbox failed: ${(err as Error).message}`,
      });
    }
    const lines = output.replace(/^\s+/, "").split("\n");
    if (lines[0]?.trim() === config.submit_sentinel && exitCode === 0) {
      return end("submitted", { submission: lines.slice(1).join("\n") });
    }
    messages.push({
      role: "user",
      content: `<returncode>${exitCode ?? "unknown"}</returncode>\n<output>\n${truncateOutput(output, config.max_observation_length)}</output>`,
    });
  }
  return end("max_turns", { error: `reached max_turns (${config.max_turns}) without submitting` });
}
