/**
 * What the agent gets back, in OpenAI's wire format: a `chat.completion` body, the same answer as an SSE
 * `chat.completion.chunk` stream, or an `{"error": {...}}` body.
 */
import { PolicyError } from "../policy/errors.js";
import type { PolicyResponse, Usage } from "../types.js";

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

function usageOf(resp: PolicyResponse): Usage {
  if (resp.usage) return resp.usage;
  // Without reported usage, token ids are the next best count; otherwise zeros, as the seed's proxy does.
  const p = resp.prompt_token_ids?.length ?? 0;
  const c = resp.completion_token_ids?.length ?? 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

export function completionBody(resp: PolicyResponse, meta: CompletionMeta): object {
  const message: Record<string, unknown> = { role: "assistant", content: resp.content, refusal: null };
  if (resp.tool_calls && resp.tool_calls.length > 0) message.tool_calls = resp.tool_calls;
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: resp.finish_reason }],
    usage: usageOf(resp),
  };
}

/**
 * The whole answer as one SSE payload: role chunk, content chunk, tool-call chunk, finish chunk, the usage
 * chunk when `stream_options.include_usage` asked for it, then `[DONE]`. The backend is always called
 * non-streamed (token ids survive), so the stream is built in one go.
 */
export function sseBody(resp: PolicyResponse, meta: CompletionMeta, includeUsage: boolean): string {
  const head = `{"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":`;
  const tail = includeUsage ? ',"usage":null}' : "}";
  const chunk = (delta: object, finish: string | null) =>
    `data: ${head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]${tail}\n\n`;
  let out = chunk({ role: "assistant", content: "" }, null);
  if (resp.content) out += chunk({ content: resp.content }, null);
  if (resp.tool_calls && resp.tool_calls.length > 0) {
    out += chunk({ tool_calls: resp.tool_calls.map((tc, index) => ({ index, ...tc })) }, null);
  }
  out += chunk({}, resp.finish_reason);
  if (includeUsage) out += `data: ${head}[],"usage":${JSON.stringify(usageOf(resp))}}\n\n`;
  return `${out}data: [DONE]\n\n`;
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(err: PolicyError, param: string | null = null): OpenAIErrorBody {
  return { error: { message: err.message, type: err.type, param, code: err.code ?? null } };
}

/** A 400 for a malformed agent request, naming the field. */
export function invalidRequest(message: string, code = "invalid_request"): PolicyError {
  return new PolicyError(message, { status: 400, type: "invalid_request_error", code });
}

/** True when the body asked for a usage chunk at the end of the stream. */
export function wantsStreamUsage(body: Record<string, unknown>): boolean {
  const opts = body.stream_options;
  return (
    typeof opts === "object" && opts !== null && (opts as { include_usage?: unknown }).include_usage === true
  );
}
