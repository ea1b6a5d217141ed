/**
 * Contracts shared by the rollout room: the OpenAI-shaped chat request an agent sends through the
 * ModelProxy, what a policy backend returns for it, and the record kept of every call.
 */

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | "developer";
  content: string | null | Array<{ type: string; text?: string; [k: string]: unknown }>;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  [k: string]: unknown;
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** An OpenAI `/v1/chat/completions` body as the agent sent it (unknown keys kept for the backend). */
export interface ChatCompletionRequest {
  model?: string;
  messages: ChatMessage[];
  tools?: unknown[];
  tool_choice?: unknown;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  stream?: boolean;
  n?: number;
  seed?: number;
  [k: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One model answer, independent of how it is sent back (JSON or SSE). */
export interface PolicyResponse {
  content: string | null;
  tool_calls?: ToolCall[];
  finish_reason: "stop" | "length" | "tool_calls" | "content_filter";
  usage?: Usage;
  model?: string;
  /** Token ids of the prompt and of the completion, when the backend gives them (RL training needs them). */
  prompt_token_ids?: number[];
  completion_token_ids?: number[];
  /** Log-probability of each completion token, aligned with `completion_token_ids`. */
  logprobs?: number[];
  /** The upstream's completion id (`chatcmpl-...`), returned to the agent instead of the proxy's own. */
  id?: string;
  /** The upstream's `system_fingerprint` (which backend build answered). */
  system_fingerprint?: string;
  /** A reasoning model's thinking (vLLM/DeepSeek `message.reasoning_content`). */
  reasoning_content?: string;
}

export interface PolicyContext {
  /** The rollout this call belongs to. */
  sessionId: string;
  /** 0-based index of this call within the rollout. */
  step: number;
  signal: AbortSignal;
  /** Proxy-assigned id of this call (the trainer-driven backend hands it to the trainer). */
  requestId?: string;
  /** The session's metadata as given to `openSession` (task id, attempt, ...). */
  metadata?: Record<string, unknown>;
}

/** Where model calls go: an OpenAI-compatible upstream, a trainer, or a recorded trajectory. */
export interface PolicyBackend {
  complete(request: ChatCompletionRequest, ctx: PolicyContext): Promise<PolicyResponse>;
  close?(): Promise<void>;
}

/** What the proxy records for every model call of a rollout. */
export interface ModelCallRecord {
  session_id: string;
  step: number;
  request: ChatCompletionRequest;
  response: PolicyResponse | null;
  /** Set when the call failed (limit reached, backend error, timeout); the agent got an OpenAI error. */
  error?: { type: string; message: string; code?: string; status?: number };
  started_at: string;
  duration_ms: number;
  /** Proxy-assigned id of the call (the trainer answers it by this id). */
  request_id?: string;
  /** Where the time went: `policy_ms` waiting for the backend, `total_ms` from request parsed to reply built. */
  timings?: { policy_ms: number; total_ms: number };
  /** The session's metadata (task id, attempt, ...), copied so a JSONL line stands on its own. */
  metadata?: Record<string, unknown>;
}
