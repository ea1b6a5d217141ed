/**
 * What the agent gets back, in OpenAI's wire format: a `chat.completion` body, the same answer as an SSE
 * `chat.completion.chunk` stream, or an `{"error": {...}}` body.
 */
import { PolicyError } from "../policy/errors.js";
import type { PolicyResponse, Usage } from "../types.js";

export interface CompletionMeta {
  /** The proxy's id for the call; the upstream's (`resp.id`) wins when it gave one. */
  id: string;
  created: number;
  model: string;
}

/** What the agent asked to get back beyond OpenAI's fields (vLLM's extensions). */
export interface CompletionExtras {
  /** `return_token_ids: true`: `prompt_token_ids` (top level) and `choices[0].token_ids`, as vLLM sends them. */
  tokenIds?: boolean;
  /** `logprobs: true`: `choices[0].logprobs.content[]`, one entry per completion token. */
  logprobs?: boolean;
}

/** The extras an agent's request asked for (an outer swerex proxy or any vLLM client asks this way). */
export function requestedExtras(body: Record<string, unknown>): CompletionExtras {
  return { tokenIds: body.return_token_ids === true, logprobs: body.logprobs === true };
}

/**
 * vLLM's logprobs shape. Tokens are spelled `token_id:<n>` (vLLM's `return_tokens_as_token_ids`) when the ids
 * are known, so a client (another swerex proxy) recovers the ids even from the logprobs alone.
 */
function logprobsBody(resp: PolicyResponse): object | null {
  if (!resp.logprobs) return null;
  const ids = resp.completion_token_ids;
  const aligned = ids !== undefined && ids.length === resp.logprobs.length;
  return {
    content: resp.logprobs.map((logprob, i) => ({
      token: aligned ? `token_id:${ids[i]}` : "",
      logprob,
      bytes: null,
      top_logprobs: [],
    })),
  };
}

function usageOf(resp: PolicyResponse): Usage {
  if (resp.usage) return resp.usage;
  // Without reported usage, token ids are the next best count; otherwise zeros, as the seed's proxy does.
  const p = resp.prompt_token_ids?.length ?? 0;
  const c = resp.completion_token_ids?.length ?? 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

export function completionBody(
  resp: PolicyResponse,
  meta: CompletionMeta,
  extras: CompletionExtras = {},
): object {
  const message: Record<string, unknown> = { role: "assistant", content: resp.content, refusal: null };
  if (resp.reasoning_content !== undefined) message.reasoning_content = resp.reasoning_content;
  if (resp.tool_calls && resp.tool_calls.length > 0) message.tool_calls = resp.tool_calls;
  const choice: Record<string, unknown> = {
    index: 0,
    message,
    logprobs: extras.logprobs ? logprobsBody(resp) : null,
    finish_reason: resp.finish_reason,
  };
  const body: Record<string, unknown> = {
    id: resp.id ?? meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
  };
  if (resp.system_fingerprint !== undefined) body.system_fingerprint = resp.system_fingerprint;
  body.choices = [choice];
  body.usage = usageOf(resp);
  if (extras.tokenIds) {
    if (resp.prompt_token_ids) body.prompt_token_ids = resp.prompt_token_ids;
    if (resp.completion_token_ids) choice.token_ids = resp.completion_token_ids;
  }
  return body;
}

/**
 * The whole answer as one SSE payload: role chunk, content chunk, tool-call chunk, finish chunk, the usage
 * chunk when `stream_options.include_usage` asked for it, then `[DONE]`. The backend is always called
 * non-streamed (token ids survive), so the stream is built in one go.
 */
export function sseBody(resp: PolicyResponse, meta: CompletionMeta, includeUsage: boolean): string {
  const fingerprint =
    resp.system_fingerprint === undefined
      ? ""
      : `"system_fingerprint":${JSON.stringify(resp.system_fingerprint)},`;
  const head = `{"id":${JSON.stringify(resp.id ?? meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},${fingerprint}"choices":`;
  const tail = includeUsage ? ',"usage":null}' : "}";
  const chunk = (delta: object, finish: string | null) =>
    `data: ${head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]${tail}\n\n`;
  let out = chunk({ role: "assistant", content: "" }, null);
  if (resp.reasoning_content) out += chunk({ reasoning_content: resp.reasoning_content }, null);
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
