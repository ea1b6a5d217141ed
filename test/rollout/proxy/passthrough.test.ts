/**
 * What the upstream or the trainer says survives the proxy: the completion `id`, `system_fingerprint` and
 * `reasoning_content` reach the agent and the record; token ids and logprobs are returned when the agent asks
 * as vLLM's clients do (`return_token_ids`, `logprobs`), so a swerex proxy in front of another one (a run-batch
 * whose upstream is a trainer-driven `swerex proxy`) keeps the trainer's ids.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import { TrainerPolicy } from "../../../src/rollout/policy/trainer.js";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import { fakeAnswer, startFakeUpstream } from "./fake-upstream.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyWith(opts: Parameters<typeof startModelProxy>[0]): Promise<ModelProxy> {
  const p = await startModelProxy(opts);
  cleanups.push(() => p.close());
  return p;
}

const messages = [{ role: "user" as const, content: "think first" }];

function reasoningOf(res: OpenAI.Chat.Completions.ChatCompletion): string | undefined {
  return (res.choices[0]?.message as { reasoning_content?: string } | undefined)?.reasoning_content;
}

describe("upstream fields kept", () => {
  it("id, system_fingerprint and reasoning_content are returned (plain and streamed) and recorded", async () => {
    const upstream = await startFakeUpstream({
      script: (body) => {
        const a = fakeAnswer(body) as Record<string, unknown> & {
          choices: Array<{ message: Record<string, unknown> }>;
        };
        a.id = "chatcmpl-upstream-42";
        a.system_fingerprint = "fp_vllm_0.11";
        (a.choices[0] as { message: Record<string, unknown> }).message.reasoning_content = "let me see";
        return { status: 200, json: a };
      },
    });
    cleanups.push(() => upstream.close());
    const policy = new OpenAIPolicy({ base_url: upstream.baseUrl });
    cleanups.push(() => policy.close());
    const proxy = await proxyWith({ policy });
    const session = proxy.openSession("fields");
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 30_000 });

    const res = await c.chat.completions.create({ model: "m", messages });
    expect(res.id).toBe("chatcmpl-upstream-42");
    expect(res.system_fingerprint).toBe("fp_vllm_0.11");
    expect(reasoningOf(res)).toBe("let me see");
    expect(res.choices[0]?.message.content).toBe("echo: think first");

    const stream = await c.chat.completions.create({ model: "m", messages, stream: true });
    let reasoning = "";
    let content = "";
    const ids = new Set<string>();
    const fingerprints = new Set<string | undefined>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      fingerprints.add(chunk.system_fingerprint);
      const delta = chunk.choices[0]?.delta as { reasoning_content?: string; content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? "";
      content += delta?.content ?? "";
    }
    expect([...ids]).toEqual(["chatcmpl-upstream-42"]);
    expect([...fingerprints]).toEqual(["fp_vllm_0.11"]);
    expect(reasoning).toBe("let me see");
    expect(content).toBe("echo: think first");

    const rec = session.records()[0]?.response;
    expect(rec).toMatchObject({
      id: "chatcmpl-upstream-42",
      system_fingerprint: "fp_vllm_0.11",
      reasoning_content: "let me see",
    });
  });

  it("a trainer's id and reasoning_content given over HTTP reach the agent", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const proxy = await proxyWith({ policy: trainer, defaultSession: {} });
    const c = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    const pending = c.chat.completions.create({ model: "m", messages });
    const poll = await fetch(`${proxy.url}/trainer/requests?wait=30`, {
      signal: AbortSignal.timeout(40_000),
    });
    const call = (await poll.json()) as { request_id: string };
    const answer = await fetch(`${proxy.url}/trainer/responses/${call.request_id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        content: "done",
        finish_reason: "stop",
        id: "chatcmpl-trainer-7",
        reasoning_content: "because",
        system_fingerprint: "fp_trainer",
      }),
    });
    expect(answer.status).toBe(200);
    const res = await pending;
    expect(res.id).toBe("chatcmpl-trainer-7");
    expect(res.system_fingerprint).toBe("fp_trainer");
    expect(reasoningOf(res)).toBe("because");
  });
});

describe("token ids through a chain of proxies", () => {
  it("ids and logprobs a trainer posts to the outer proxy reach the inner proxy's record", async () => {
    const trainer = new TrainerPolicy();
    cleanups.push(() => trainer.close());
    const outer = await proxyWith({ policy: trainer, autoSessions: true, defaultSession: {} });
    const inner_policy = new OpenAIPolicy({
      base_url: `${outer.url}/v1`,
      return_token_ids: true,
      logprobs: true,
    });
    cleanups.push(() => inner_policy.close());
    const inner = await proxyWith({ policy: inner_policy });
    const session = inner.openSession("rollout-1");
    const c = new OpenAI({ baseURL: session.baseUrl, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    const pending = c.chat.completions.create({ model: "m", messages });
    const poll = await fetch(`${outer.url}/trainer/requests?wait=30`, {
      signal: AbortSignal.timeout(40_000),
    });
    const call = (await poll.json()) as { request_id: string; request: Record<string, unknown> };
    // The inner proxy asked the outer one for ids, as it would ask vLLM.
    expect(call.request.return_token_ids).toBe(true);
    expect(call.request.logprobs).toBe(true);
    const posted = await fetch(`${outer.url}/trainer/responses/${call.request_id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        content: "ok",
        finish_reason: "stop",
        prompt_token_ids: [1, 2, 3],
        completion_token_ids: [10, 11],
        logprobs: [-0.5, -0.25],
      }),
    });
    expect(posted.status).toBe(200);
    const res = await pending;
    expect(res.choices[0]?.message.content).toBe("ok");
    expect(session.records()[0]?.response).toMatchObject({
      content: "ok",
      prompt_token_ids: [1, 2, 3],
      completion_token_ids: [10, 11],
      logprobs: [-0.5, -0.25],
    });
  });
});
