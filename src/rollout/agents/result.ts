/** How an agent run ended, whichever agent it was. */
import type { ChatMessage } from "../types.js";

export type AgentExitStatus =
  | "submitted"
  | "max_turns"
  | "max_steps"
  | "timeout"
  | "format_error"
  | "model_error"
  | "agent_error"
  | "cancelled";

export interface AgentRunResult {
  exit_status: AgentExitStatus;
  /** Model replies the agent acted on. */
  turns: number;
  /** What went wrong, for the exits that are not `submitted`. */
  error?: string;
  /** The bash agent's conversation. */
  messages?: ChatMessage[];
  /** Output that followed the submit sentinel. */
  submission?: string;
  /** The end of an agent command's stdout/stderr. */
  output_tail?: string;
  /** Reads the `.patch` file the agent wrote, if any (PatchExtractor's first strategy). */
  readPatchFile?: () => Promise<string | null>;
}
