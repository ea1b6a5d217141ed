/**
 * Recording to JSONL and replaying it: a rollout recorded against a live upstream replays to the same
 * answers, deterministically (twice, and with several sessions at once); past the end the agent gets a clean
 * 404 `replay_exhausted`; `strict` catches an agent whose requests drifted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createPolicy } from "../../../src/rollout/policy/create.js";
import { OpenAIPolicy } from "../../../src/rollout/policy/openai.js";
import { ReplayPolicy } from "../../../src/rollout/policy/replay.js";
import { startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import type { ModelCallRecord, PolicyBackend } from "../../../src/rollout/types.js";
import { startFakeUpstream } from "../proxy/fake-upstream.js";

const dir = mkdtempSync(join(tmpdir(), "swerex-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOOL = { type: "function" as const, function: { name: "bash", parameters: { type: "object" } } };

/** A tiny deterministic agent: 3 turns, tool on the second; returns every answer it got. */
async function runAgent(baseURL: string, stream = false): Promise<unknown[]> {
  const c = new OpenAI({ baseURL, apiKey: "x", maxRetries: 0, timeout: 30_000 });
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "start" }];
  const seen: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const content = i === 1 ? "now use the tool" : `turn ${i}`;
    messages.push({ role: "user", content });
    let msg: OpenAI.Chat.ChatCompletionMessage;
    if (stream) {
      msg = (await c.chat.completions.stream({ model: "m", messages, tools: [TOOL] }).finalChatCompletion())
        .choices[0]?.message as OpenAI.Chat.ChatCompletionMessage;
    } else {
      msg = (await c.chat.completions.create({ model: "m", messages, tools: [TOOL] })).choices[0]
        ?.message as OpenAI.Chat.ChatCompletionMessage;
    }
    seen.push({ content: msg.content, tool_calls: msg.tool_calls ?? [] });
    messages.push({
      role: "assistant",
      content: msg.content ?? "",
      ...(msg.tool_calls ? { tool_calls: msg.tool_calls } : {}),
    });
  }
  return seen;
}

async function record(path: string, sessions: string[]): Promise<Map<string, unknown[]>> {
  const upstream = await startFakeUpstream();
  const policy = new OpenAIPolicy({ base_url: upstream.baseUrl, logprobs: true, return_token_ids: true });
  const proxy = await startModelProxy({ policy, record: path });
  const out = new Map<string, unknown[]>();
  try {
    await Promise.all(
      sessions.map(async (id) =>
        out.set(id, await runAgent(proxy.openSession(id, { metadata: { id } }).baseUrl)),
      ),
    );
  } finally {
    await proxy.close();
    await policy.close();
    await upstream.close();
  }
  return out;
}

async function replayProxy(policy: PolicyBackend) {
  const proxy = await startModelProxy({ policy });
  cleanups.push(() => proxy.close());
  return proxy;
}

describe("recording", () => {
  it("writes one JSONL line per call, flushed by close, with ids and logprobs", async () => {
    const path = join(dir, "rec.jsonl");
    const live = await record(path, ["s1"]);
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(lines).toHaveLength(3);
    const recs = lines.map((l) => JSON.parse(l) as ModelCallRecord);
    expect(recs.map((r) => r.step).sort()).toEqual([0, 1, 2]);
    expect(recs.every((r) => r.session_id === "s1" && (r.metadata as { id: string }).id === "s1")).toBe(true);
    expect(recs[0]?.response?.completion_token_ids?.length).toBeGreaterThan(0);
    expect(recs[0]?.response?.logprobs?.length).toBe(recs[0]?.response?.completion_token_ids?.length);
    expect(recs[1]?.response?.tool_calls?.[0]?.function.name).toBe("bash");
    expect(live.get("s1")).toHaveLength(3);
  });
});

describe("replay", () => {
  it("replays a recorded rollout exactly, twice, plain and streamed", async () => {
    const path = join(dir, "one.jsonl");
    const live = (await record(path, ["orig"])).get("orig");
    const policy = ReplayPolicy.fromFile(path, { strict: true });
    const proxy = await replayProxy(policy);
    const first = await runAgent(proxy.openSession("r1").baseUrl);
    const second = await runAgent(proxy.openSession("r2").baseUrl, true);
    expect(first).toEqual(live);
    expect(second).toEqual(live);
    // The replayed records carry the recorded token ids.
    const recorded = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ModelCallRecord);
    const step0 = recorded.find((r) => r.step === 0);
    expect(proxy.getSession("r1")?.records()[0]?.response?.completion_token_ids).toEqual(
      step0?.response?.completion_token_ids,
    );
  });

  it("a batch recording replays each session's own trajectory, whatever the interleaving", async () => {
    const path = join(dir, "batch.jsonl");
    const live = await record(path, ["a", "b", "c"]);
    const proxy = await replayProxy(ReplayPolicy.fromFile(path));
    const again = new Map<string, unknown[]>();
    await Promise.all(
      ["c", "a", "b"].map(async (id) => again.set(id, await runAgent(proxy.openSession(id).baseUrl))),
    );
    expect(again).toEqual(live);
    const picked = await replayProxy(ReplayPolicy.fromFile(path, { session_id: "b" }));
    expect(await runAgent(picked.openSession("any").baseUrl)).toEqual(live.get("b"));
  });

  it("past the recording the agent gets a 404 replay_exhausted; drifted requests a 409 under strict", async () => {
    const policy = ReplayPolicy.fromResponses([{ content: "only one", finish_reason: "stop" }]);
    const proxy = await replayProxy(policy);
    const c = new OpenAI({ baseURL: proxy.openSession().baseUrl, apiKey: "x", maxRetries: 0 });
    const msg = [{ role: "user" as const, content: "x" }];
    expect((await c.chat.completions.create({ model: "m", messages: msg })).choices[0]?.message.content).toBe(
      "only one",
    );
    const err = (await c.chat.completions
      .create({ model: "m", messages: msg })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(404);
    expect(err.code).toBe("replay_exhausted");
    expect(err.message).toContain("no call 1 (1 recorded)");

    const path = join(dir, "strict.jsonl");
    await record(path, ["s"]);
    const strict = await replayProxy(ReplayPolicy.fromFile(path, { strict: true }));
    const sc = new OpenAI({ baseURL: strict.openSession().baseUrl, apiKey: "x", maxRetries: 0 });
    const drift = (await sc.chat.completions
      .create({ model: "m", messages: [{ role: "user", content: "something else" }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(drift.status).toBe(409);
    expect(drift.code).toBe("replay_mismatch");
  });

  it("loads a JSON list of PolicyResponse through createPolicy, and rejects bad files naming the entry", async () => {
    const list = join(dir, "list.json");
    writeFileSync(list, JSON.stringify([{ content: "hello", finish_reason: "stop" }]));
    const proxy = await replayProxy(createPolicy({ type: "replay", path: list }));
    const c = new OpenAI({ baseURL: proxy.openSession().baseUrl, apiKey: "x", maxRetries: 0 });
    const r = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(r.choices[0]?.message.content).toBe("hello");

    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ content: "ok", finish_reason: "stop" })}\n{"content": 1}\n`);
    expect(() => ReplayPolicy.fromFile(bad)).toThrow(/entry 2: content/);
    const notJson = join(dir, "notjson.jsonl");
    writeFileSync(notJson, "{}\nnope\n");
    expect(() => ReplayPolicy.fromFile(notJson)).toThrow(/line 2 is not JSON/);
  });
});

describe("createPolicy", () => {
  it("builds each backend type from dotted-config values and names bad fields", async () => {
    const openai = createPolicy({
      type: "openai",
      base_url: "http://127.0.0.1:9/v1",
      model: "qwen",
      api_key: 12345,
    });
    expect(openai).toBeInstanceOf(OpenAIPolicy);
    expect((openai as OpenAIPolicy).model).toBe("qwen");
    await openai.close?.();
    expect(() => createPolicy({ type: "openai" })).toThrow(/base_url/);
    expect(() => createPolicy({ type: "nope" })).toThrow(/invalid policy config: type/);
    expect(() => createPolicy({ type: "trainer", extra: 1 })).toThrow(/extra/);
    const err = (() => {
      try {
        createPolicy({ type: "openai", base_url: "not a url", api_key: "sk-SECRET" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toContain("base_url");
    expect(err?.message).not.toContain("SECRET");
  });
});
