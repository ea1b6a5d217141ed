/**
 * Turns an upstream `chat.completion` body (OpenAI, vLLM, SGLang) into a PolicyResponse, keeping the token
 * ids and logprobs that vLLM returns: `prompt_token_ids` (top level) and `choices[0].token_ids` with
 * `return_token_ids: true`; per-token logprobs in `choices[0].logprobs.content[].logprob` with
 * `logprobs: true`; ids spelled `token_id:<n>` in those entries with `return_tokens_as_token_ids: true`.
 */
import type { PolicyResponse, ToolCall, Usage } from "../types.js";
import { PolicyError } from "./errors.js";

const FINISH_REASONS = new Set(["stop", "length", "tool_calls", "content_filter"]);
const TOKEN_ID_RE = /^token_id:(-?\d+)$/;

interface UpstreamLogprob {
  token?: unknown;
  logprob?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function intArray(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) return undefined;
  return v as number[];
}

function finishReason(raw: unknown, hasToolCalls: boolean): PolicyResponse["finish_reason"] {
  if (typeof raw === "string" && FINISH_REASONS.has(raw)) return raw as PolicyResponse["finish_reason"];
  if (raw === "function_call") return "tool_calls";
  return hasToolCalls ? "tool_calls" : "stop";
}

function toolCalls(raw: unknown): ToolCall[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  return raw.filter(isObject).map((tc, i) => {
    const fn = isObject(tc.function) ? tc.function : {};
    const args = fn.arguments;
    return {
      id: typeof tc.id === "string" ? tc.id : `call_${i}`,
      type: "function",
      function: {
        name: typeof fn.name === "string" ? fn.name : "",
        // Some servers hand back parsed arguments; the OpenAI wire format wants a JSON string.
        arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
      },
    };
  });
}

function usage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const p = raw.prompt_tokens;
  const c = raw.completion_tokens;
  if (typeof p !== "number" || typeof c !== "number") return undefined;
  return {
    prompt_tokens: p,
    completion_tokens: c,
    total_tokens: typeof raw.total_tokens === "number" ? raw.total_tokens : p + c,
  };
}

/** A 502 for an upstream answer that is not a usable `chat.completion` (the agent should not retry it). */
export function badUpstreamResponse(why: string): PolicyError {
  return new PolicyError(`upstream returned an unusable answer: ${why}`, {
    status: 502,
    type: "upstream_error",
    code: "bad_upstream_response",
  });
}

/** Every malformed shape becomes a 502 `bad_upstream_response`; a well-formed body keeps all it carries. */
export function policyResponseFromCompletion(body: unknown): PolicyResponse {
  const choice = isObject(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
  if (!isObject(body) || !isObject(choice) || !isObject(choice.message)) {
    throw badUpstreamResponse("a body without choices[0].message");
  }
  const message = choice.message;
  const calls = toolCalls(message.tool_calls);
  const out: PolicyResponse = {
    content: typeof message.content === "string" ? message.content : calls ? null : "",
    finish_reason: finishReason(choice.finish_reason, calls !== undefined),
  };
  if (calls) out.tool_calls = calls;
  const u = usage(body.usage);
  if (u) out.usage = u;
  if (typeof body.model === "string") out.model = body.model;
  if (typeof body.id === "string" && body.id !== "") out.id = body.id;
  if (typeof body.system_fingerprint === "string") out.system_fingerprint = body.system_fingerprint;
  // vLLM/DeepSeek spell it `reasoning_content`; newer vLLM also `reasoning`.
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === "string") out.reasoning_content = reasoning;

  const promptIds = intArray(body.prompt_token_ids) ?? intArray(choice.prompt_token_ids);
  if (promptIds) out.prompt_token_ids = promptIds;
  let completionIds = intArray(choice.token_ids);

  const entries = isObject(choice.logprobs) ? choice.logprobs.content : undefined;
  if (Array.isArray(entries) && entries.length > 0) {
    const lps: number[] = [];
    const ids: number[] = [];
    for (const raw of entries as unknown[]) {
      if (!isObject(raw)) throw badUpstreamResponse("choices[0].logprobs.content has a non-object entry");
      const e = raw as UpstreamLogprob;
      if (typeof e.logprob !== "number") {
        throw badUpstreamResponse("choices[0].logprobs.content has an entry without a numeric logprob");
      }
      lps.push(e.logprob);
      const m = typeof e.token === "string" ? TOKEN_ID_RE.exec(e.token) : null;
      if (m?.[1] !== undefined) ids.push(Number(m[1]));
    }
    out.logprobs = lps;
    if (!completionIds && ids.length === entries.length) completionIds = ids;
  }
  if (completionIds) out.completion_token_ids = completionIds;
  return out;
}
