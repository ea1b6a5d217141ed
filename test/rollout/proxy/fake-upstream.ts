/**
 * A vLLM-like OpenAI upstream on a real loopback socket, for tests and the proxy benchmark. It answers
 * `/v1/chat/completions` deterministically from the request and, like vLLM, adds token ids and logprobs
 * when asked (`logprobs`, `return_token_ids`, `return_tokens_as_token_ids`). Run as a script it listens on
 * 127.0.0.1:0 and prints `PORT <n>` (the benchmark runs it in its own process).
 */
import { pathToFileURL } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";

export interface UpstreamCall {
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeUpstreamOptions {
  /** Milliseconds before answering (simulated generation time). */
  delayMs?: number;
  /** Overrides the answer: return `{status, json}`. */
  script?: (body: Record<string, unknown>, n: number) => { status: number; json: unknown } | undefined;
  /** Keep received calls (tests); the benchmark turns it off. */
  keepCalls?: boolean;
}

export interface FakeUpstream {
  url: string;
  baseUrl: string;
  calls: UpstreamCall[];
  close(): Promise<void>;
}

interface Msg {
  role?: string;
  content?: unknown;
}

/** Deterministic "tokenizer": one id per character. */
export function fakeTokenIds(text: string): number[] {
  return Array.from(text, (ch) => (ch.codePointAt(0) ?? 0) + 1000);
}

export function fakeAnswer(body: Record<string, unknown>): Record<string, unknown> {
  const messages = (body.messages as Msg[] | undefined) ?? [];
  const last = messages[messages.length - 1];
  const lastText = typeof last?.content === "string" ? last.content : "";
  const prompt = messages.map((m) => (typeof m.content === "string" ? m.content : "")).join("\n");
  const wantsTool = Array.isArray(body.tools) && lastText.includes("use the tool");
  const content = wantsTool ? null : `echo: ${lastText}`;
  const toolCalls = wantsTool
    ? [{ id: "call_abc", type: "function", function: { name: "bash", arguments: '{"command":"ls -la"}' } }]
    : undefined;
  const completionText = content ?? JSON.stringify(toolCalls);
  const ids = fakeTokenIds(completionText);
  const choice: Record<string, unknown> = {
    index: 0,
    message: { role: "assistant", content, ...(toolCalls ? { tool_calls: toolCalls } : {}) },
    finish_reason: wantsTool ? "tool_calls" : "stop",
    logprobs: null,
  };
  if (body.logprobs === true) {
    choice.logprobs = {
      content: ids.map((id, i) => ({
        token: body.return_tokens_as_token_ids === true ? `token_id:${id}` : String.fromCodePoint(id - 1000),
        logprob: -(i + 1) / 8,
        bytes: null,
        top_logprobs: [],
      })),
    };
  }
  const out: Record<string, unknown> = {
    id: "chatcmpl-upstream",
    object: "chat.completion",
    created: 1_700_000_000,
    model: typeof body.model === "string" ? body.model : "fake-model",
    choices: [choice],
    usage: {
      prompt_tokens: prompt.length,
      completion_tokens: ids.length,
      total_tokens: prompt.length + ids.length,
    },
  };
  if (body.return_token_ids === true) {
    out.prompt_token_ids = fakeTokenIds(prompt);
    choice.token_ids = ids;
  }
  return out;
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const calls: UpstreamCall[] = [];
  const keep = opts.keepCalls ?? true;
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  let n = 0;
  app.post("/v1/chat/completions", async (req, reply) => {
    const body = req.body as Record<string, unknown>;
    if (keep) calls.push({ body, headers: req.headers });
    const i = n++;
    // A `fake_delay_ms` body key (passed through by the proxy) simulates generation time per call.
    const delay = typeof body.fake_delay_ms === "number" ? body.fake_delay_ms : opts.delayMs;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const scripted = opts.script?.(body, i);
    if (scripted) return reply.code(scripted.status).send(scripted.json);
    return fakeAnswer(body);
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return { url, baseUrl: `${url}/v1`, calls, close: () => app.close() };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const delayMs = Number(process.env.FAKE_UPSTREAM_DELAY_MS ?? "0");
  const up = await startFakeUpstream({ delayMs, keepCalls: false });
  process.stdout.write(`PORT ${new URL(up.url).port}\n`);
  const stop = () => void up.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
