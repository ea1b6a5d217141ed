/**
 * Policy backend that forwards each call to an OpenAI-compatible `/v1/chat/completions` upstream (vLLM,
 * SGLang, OpenAI) over a keep-alive undici pool. The upstream is always asked non-streamed, so token ids
 * and logprobs are never lost to SSE reassembly; the proxy re-streams to the agent when it asked to stream.
 */
import { Pool } from "undici";
import type { ChatCompletionRequest, PolicyBackend, PolicyContext, PolicyResponse } from "../types.js";
import { badUpstreamResponse, policyResponseFromCompletion } from "./completion-parse.js";
import { abortReasonError, PolicyError } from "./errors.js";

export interface OpenAIPolicyConfig {
  /** Upstream base URL including the `/v1` part, e.g. `http://127.0.0.1:8000/v1`. */
  base_url: string;
  /** Sent as `Authorization: Bearer`; never logged. */
  api_key?: string;
  /** Replaces the agent's `model` (agents often send a placeholder such as `openai/verl-model`). */
  model?: string;
  /** Ask for per-token logprobs (`logprobs: true`). */
  logprobs?: boolean;
  /** vLLM >= 0.10.2: `return_token_ids: true` adds `prompt_token_ids` and `choices[].token_ids`. */
  return_token_ids?: boolean;
  /** vLLM: logprob entries spell tokens as `token_id:<n>` (ids without `return_token_ids`). */
  return_tokens_as_token_ids?: boolean;
  /** Merged into every upstream body last (sampling overrides, `cache_salt`, engine-specific keys). */
  extra_body?: Record<string, unknown>;
  /** Upper bound on pooled upstream connections. */
  max_connections?: number;
  /** Seconds to wait for the upstream's headers and body; the proxy's per-request timeout also applies. */
  timeout?: number;
}

export const OPENAI_POLICY_DEFAULTS = { max_connections: 1024, timeout: 600 } as const;

export class OpenAIPolicy implements PolicyBackend {
  readonly model: string | undefined;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly origin: string;
  private readonly headers: Record<string, string>;
  private readonly overrides: Record<string, unknown>;

  constructor(config: OpenAIPolicyConfig) {
    const url = new URL(config.base_url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new PolicyError(`policy.base_url must be http(s), got ${url.protocol}`, {
        status: 500,
        type: "config_error",
      });
    }
    // `origin` drops any user:password in the URL, so it is safe to put in error messages.
    this.origin = url.origin;
    this.path = `${url.pathname.replace(/\/+$/, "")}/chat/completions`;
    const timeoutMs = (config.timeout ?? OPENAI_POLICY_DEFAULTS.timeout) * 1000;
    this.pool = new Pool(url.origin, {
      connections: config.max_connections ?? OPENAI_POLICY_DEFAULTS.max_connections,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    this.headers = { "content-type": "application/json", accept: "application/json" };
    if (config.api_key) this.headers.authorization = `Bearer ${config.api_key}`;
    this.model = config.model;
    const overrides: Record<string, unknown> = { stream: false };
    if (config.model) overrides.model = config.model;
    if (config.logprobs) overrides.logprobs = true;
    if (config.return_token_ids) overrides.return_token_ids = true;
    if (config.return_tokens_as_token_ids) overrides.return_tokens_as_token_ids = true;
    this.overrides = { ...overrides, ...config.extra_body };
  }

  async complete(request: ChatCompletionRequest, ctx: PolicyContext): Promise<PolicyResponse> {
    const body: Record<string, unknown> = { ...request, ...this.overrides };
    // Only meaningful for streamed calls, which the upstream never gets.
    delete body.stream_options;
    let res: Awaited<ReturnType<Pool["request"]>>;
    try {
      res = await this.pool.request({
        path: this.path,
        method: "POST",
        headers: this.headers,
        body: JSON.stringify(body),
        signal: ctx.signal,
      });
    } catch (err) {
      throw this.transportError(err, ctx.signal);
    }
    try {
      if (res.statusCode === 200 || res.statusCode === 201) {
        const text = await res.body.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw badUpstreamResponse(`status ${res.statusCode} with a body that is not JSON`);
        }
        return policyResponseFromCompletion(parsed);
      }
      throw upstreamStatusError(res.statusCode, await res.body.text());
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      throw this.transportError(err, ctx.signal);
    } finally {
      // Drains the body if we threw before reading it, so the keep-alive connection is reusable.
      res.body.resume();
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private transportError(err: unknown, signal: AbortSignal): PolicyError {
    if (signal.aborted) return abortReasonError(signal);
    const code = (err as { code?: unknown }).code;
    const detail = typeof code === "string" ? code : err instanceof Error ? err.message : String(err);
    const timedOut = code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
    return new PolicyError(`upstream ${this.origin} ${timedOut ? "timed out" : "unreachable"}: ${detail}`, {
      status: timedOut ? 504 : 502,
      type: "upstream_error",
      code: timedOut ? "upstream_timeout" : "upstream_unreachable",
      retryable: !timedOut,
      cause: err,
    });
  }
}

/** Upstream statuses that concern the proxy's own credentials, not the agent's request. */
const UPSTREAM_AUTH_STATUSES = new Set([401, 403, 407]);
const MAX_UPSTREAM_MESSAGE = 2000;

/**
 * Every upstream answer other than a 200/201 completion, as an error the agent can act on:
 * - 400-499 (except the auth statuses) and 500-599 keep the upstream's status and, when it is OpenAI-shaped,
 *   its error (e.g. 400 `context_length_exceeded`); 429 and 5xx may be retried;
 * - 401/403/407 are the proxy's upstream credentials failing: 502 `upstream_auth_failed` (the agent's own
 *   key is not involved, and a 403 would read as "stop" to agents that map it to a permission error);
 * - anything else (1xx, 202-299 other than 201, 3xx redirects, statuses outside 100-599) is a 502
 *   `bad_upstream_status`: the proxy never follows a redirect nor hands one to the agent.
 */
export function upstreamStatusError(status: number, text: string): PolicyError {
  const valid = status >= 400 && status <= 599;
  if (!valid || UPSTREAM_AUTH_STATUSES.has(status)) {
    const auth = UPSTREAM_AUTH_STATUSES.has(status);
    return new PolicyError(
      auth
        ? `upstream refused the proxy's credentials (status ${status}); check policy.api_key`
        : `upstream answered with status ${status}, which is not a chat completion`,
      { status: 502, type: "upstream_error", code: auth ? "upstream_auth_failed" : "bad_upstream_status" },
    );
  }
  let message = text.slice(0, MAX_UPSTREAM_MESSAGE);
  let type = "upstream_error";
  let code: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    const e = parsed.error;
    if (e && typeof e === "object") {
      if (typeof e.message === "string") message = e.message.slice(0, MAX_UPSTREAM_MESSAGE);
      if (typeof e.type === "string") type = e.type;
      if (typeof e.code === "string") code = e.code;
    }
  } catch {
    // Not JSON: keep the (truncated) text as the message.
  }
  return new PolicyError(`upstream returned ${status}: ${message}`, {
    status,
    type,
    ...(code === undefined ? {} : { code }),
    retryable: status === 429 || status >= 500,
  });
}
