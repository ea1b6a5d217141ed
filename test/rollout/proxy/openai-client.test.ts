/**
 * The official `openai` client talks to the ModelProxy, which forwards to a vLLM-like upstream over a real
 * socket: the agent gets exactly the upstream's content and tool calls (plain and streamed), and the
 * records keep the token ids and logprobs the upstream returned.
 */
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import type { ModelCallRecord } from "../../../src/rollout/types.js";
import { type FakeUpstream, fakeAnswer, fakeTokenIds, startFakeUpstream } from "./fake-upstream.js";

const BASH_TOOL = {
  type: "function" as const,
  function: {
    name: "bash",
    description: "run a command",
    parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
  },
};

let upstream: FakeUpstream;
let proxy: ModelProxy | undefined;
let policy: OpenAIPolicy | undefined;

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});
afterEach(async () => {
  await proxy?.close();
  await policy?.close();
  proxy = undefined;
  policy = undefined;
  upstream.calls.length = 0;
});

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: "agent-side-key", maxRetries: 0, timeout: 30_000 });
}

describe("ModelProxy with the official openai client and an OpenAI-compatible upstream", () => {
  it("returns exactly the upstream's content (plain) and records the call", async () => {
    policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession("task-1", { metadata: { instance_id: "astropy-1" } });
    const messages = [
      { role: "system" as const, content: "you are a SWE agent" },
      { role: "user" as const, content: "fix the bug" },
    ];
    const res = await client(session.baseUrl).chat.completions.create({
      model: "openai/verl-model",
      messages,
      temperature: 0.7,
      max_tokens: 64,
    });
    const expected = fakeAnswer({ messages, model: "openai/verl-model" }) as {
      choices: [{ message: { content: string } }];
    };
    expect(res.choices[0]?.message.content).toBe(expected.choices[0].message.content);
    expect(res.choices[0]?.message.content).toBe("echo: fix the bug");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.object).toBe("chat.completion");
    expect(res.usage).toEqual({ prompt_tokens: 31, completion_tokens: 17, total_tokens: 48 });

    const [rec] = session.records() as [ModelCallRecord];
    expect(session.records()).toHaveLength(1);
    expect(rec.session_id).toBe("task-1");
    expect(rec.step).toBe(0);
    expect(rec.request.messages).toEqual(messages);
    expect(rec.request.temperature).toBe(0.7);
    expect(rec.request.max_tokens).toBe(64);
    expect(rec.response?.content).toBe("echo: fix the bug");
    expect(rec.response?.finish_reason).toBe("stop");
    expect(rec.metadata).toEqual({ instance_id: "astropy-1" });
    expect(rec.request_id).toMatch(/^req_/);
    expect(rec.timings?.total_ms).toBeGreaterThanOrEqual(rec.timings?.policy_ms ?? Number.NaN);
    expect(new Date(rec.started_at).getTime()).toBeGreaterThan(0);
    expect(session.steps).toBe(1);
    // The upstream is always asked non-streamed; the agent's sampling parameters pass through.
    expect(upstream.calls[0]?.body).toMatchObject({ stream: false, temperature: 0.7, max_tokens: 64 });
  });

  it("returns the upstream's tool calls exactly, plain and streamed", async () => {
    policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    const messages = [{ role: "user" as const, content: "please use the tool" }];
    const expectedCalls = [
      { id: "call_abc", type: "function", function: { name: "bash", arguments: '{"command":"ls -la"}' } },
    ];
    const c = client(session.baseUrl);
    const plain = await c.chat.completions.create({ model: "m", messages, tools: [BASH_TOOL] });
    expect(plain.choices[0]?.message.tool_calls).toEqual(expectedCalls);
    expect(plain.choices[0]?.message.content).toBeNull();
    expect(plain.choices[0]?.finish_reason).toBe("tool_calls");

    const stream = await c.chat.completions.create({
      model: "m",
      messages,
      tools: [BASH_TOOL],
      stream: true,
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const deltas = chunks.flatMap((ch) => ch.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toEqual(expectedCalls.map((tc, index) => ({ index, ...tc })));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
    // The SDK's own accumulator rebuilds the same message from the stream.
    const again = c.chat.completions.stream({ model: "m", messages, tools: [BASH_TOOL] });
    const final = await again.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls).toEqual(expectedCalls);
    expect(upstream.calls[0]?.body.tools).toEqual([BASH_TOOL]);
    expect(session.records().map((r) => r.request.stream ?? false)).toEqual([false, true, true]);
    expect(session.records().map((r) => r.step)).toEqual([0, 1, 2]);
  });

  it("streams content as SSE with the usage chunk when asked", async () => {
    policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    const stream = await client(session.baseUrl).chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "stream me" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.Completions.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("echo: stream me");
    expect(finish).toBe("stop");
    expect(usage).toEqual({ prompt_tokens: 9, completion_tokens: 15, total_tokens: 24 });
    // stream_options is meaningless to a non-streamed upstream call and is not forwarded.
    expect(upstream.calls[0]?.body.stream_options).toBeUndefined();
  });

  it("asks for token ids and logprobs (return_token_ids) and records them", async () => {
    policy = new OpenAIPolicy({
      base_url: upstream.baseUrl,
      model: "Qwen/Qwen2.5-3B",
      logprobs: true,
      return_token_ids: true,
      api_key: "sk-upstream-SECRET-123",
    });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    const res = await client(session.baseUrl).chat.completions.create({
      model: "openai/placeholder",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.choices[0]?.message.content).toBe("echo: hi");
    const body = upstream.calls[0]?.body;
    expect(body).toMatchObject({
      model: "Qwen/Qwen2.5-3B",
      logprobs: true,
      return_token_ids: true,
      stream: false,
    });
    expect(upstream.calls[0]?.headers.authorization).toBe("Bearer sk-upstream-SECRET-123");
    const rec = session.records()[0];
    expect(rec?.response?.prompt_token_ids).toEqual(fakeTokenIds("hi"));
    expect(rec?.response?.completion_token_ids).toEqual(fakeTokenIds("echo: hi"));
    expect(rec?.response?.logprobs).toEqual(fakeTokenIds("echo: hi").map((_, i) => -(i + 1) / 8));
    // The agent does not get logprobs it did not ask for, and the key never lands in a record.
    expect(res.choices[0]?.logprobs).toBeNull();
    expect(JSON.stringify(session.records())).not.toContain("SECRET");
  });

  it("reads ids from `token_id:<n>` logprob entries (return_tokens_as_token_ids)", async () => {
    policy = new OpenAIPolicy({
      base_url: upstream.baseUrl,
      logprobs: true,
      return_tokens_as_token_ids: true,
    });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    await client(session.baseUrl).chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "x" }],
    });
    const rec = session.records()[0];
    expect(upstream.calls[0]?.body).toMatchObject({ logprobs: true, return_tokens_as_token_ids: true });
    expect(upstream.calls[0]?.body.return_token_ids).toBeUndefined();
    expect(rec?.response?.completion_token_ids).toEqual(fakeTokenIds("echo: x"));
    expect(rec?.response?.prompt_token_ids).toBeUndefined();
    expect(rec?.response?.logprobs).toHaveLength(7);
  });

  it("records no token ids when the upstream gives none", async () => {
    policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    await client(session.baseUrl).chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "x" }],
    });
    const resp = session.records()[0]?.response;
    expect(resp?.completion_token_ids).toBeUndefined();
    expect(resp?.logprobs).toBeUndefined();
  });

  it("merges extra_body into the upstream call last", async () => {
    policy = new OpenAIPolicy({
      base_url: upstream.baseUrl,
      extra_body: { temperature: 1.0, cache_salt: "m@v3", top_k: 20 },
    });
    proxy = await startModelProxy({ policy });
    const session = proxy.openSession();
    await client(session.baseUrl).chat.completions.create({
      model: "m",
      temperature: 0.2,
      messages: [{ role: "user", content: "x" }],
    });
    expect(upstream.calls[0]?.body).toMatchObject({ temperature: 1.0, cache_salt: "m@v3", top_k: 20 });
  });
});
