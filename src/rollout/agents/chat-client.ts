/**
 * The bash agent's model client: a plain OpenAI `chat/completions` call to its proxy session, so the built-in
 * agent is recorded exactly like an external one.
 */
import type { ChatCompletionRequest, ChatMessage } from "../types.js";

export class ModelCallError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(message: string, status: number, type: string) {
    super(message);
    this.name = "ModelCallError";
    this.status = status;
    this.type = type;
  }
}

export interface ChatReply {
  message: ChatMessage;
  finish_reason: string | null;
}

/** Seconds one call may take here; the proxy answers 504 before that (its own timeout is 600 s). */
const CALL_TIMEOUT_MS = 660_000;

export async function chatCompletion(
  baseUrl: string,
  body: ChatCompletionRequest,
  signal: AbortSignal,
): Promise<ChatReply> {
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer swerex" },
    body: JSON.stringify(body),
    signal: AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // handled below: a non-JSON body is an error whatever the status
  }
  if (!res.ok || !Array.isArray(json.choices)) {
    const err = (json.error ?? {}) as { message?: string; type?: string; code?: string };
    throw new ModelCallError(
      err.message ?? `model call failed with HTTP ${res.status}: ${text.slice(0, 200)}`,
      res.status,
      err.code ?? err.type ?? "unknown",
    );
  }
  const choice = (json.choices as Array<{ message?: ChatMessage; finish_reason?: string }>)[0];
  if (!choice?.message)
    throw new ModelCallError("model reply has no message", res.status, "invalid_response");
  return { message: choice.message, finish_reason: choice.finish_reason ?? null };
}
