/**
 * Generative fuzz of every `swerex proxy` route (issue 13): the real CLI process with an openai policy in
 * front of a local fake upstream, valid bodies mutated with a fixed seed, a few seconds per route. No 5xx
 * (the proxy's answers are OpenAI errors; an upstream that answers well is never a 5xx), the process alive
 * after, its RSS back near the start.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSwerex, waitForOutput } from "../helpers/cli.js";
import type { FuzzRoute } from "../helpers/fuzz.js";
import { raw } from "../server/helpers.js";
import { FUZZ_SERVER_NODE_OPTIONS, FUZZ_TEST_TIMEOUT_MS, fuzzAndCheck } from "./helpers.js";

/** A well-behaved OpenAI-compatible upstream: one short completion for any request. */
function startUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-fuzz",
          object: "chat.completion",
          created: 1,
          model: "fuzz-model",
          choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/v1` });
    }),
  );
}

describe("fuzz: swerex proxy", () => {
  let upstream: { server: Server; url: string };
  let proxy: ReturnType<typeof spawnSwerex>;
  let baseUrl = "";
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = spawnSwerex(
      [
        "proxy",
        "--policy.type=openai",
        `--policy.base_url=${upstream.url}`,
        "--port",
        "0",
        "--max_steps",
        "1000000",
      ],
      { env: { ...process.env, NODE_OPTIONS: FUZZ_SERVER_NODE_OPTIONS }, timeoutMs: 600_000 },
    );
    baseUrl = (await waitForOutput(proxy, /OPENAI_BASE_URL=(\S+)\/v1/))[1] as string;
  });
  afterAll(async () => {
    proxy?.child.kill("SIGTERM");
    await proxy?.done.catch(() => undefined);
    await new Promise((r) => upstream?.server.close(r));
  });

  it(
    "answers every mutated request without a 5xx, and stays up",
    async () => {
      const chat = { model: "fuzz-model", messages: [{ role: "user", content: "hi" }], temperature: 0.5 };
      expect((await raw(`${baseUrl}/v1/chat/completions`, { method: "POST", json: chat })).status).toBe(200);
      const pid = proxy.child.pid as number;
      const routes: FuzzRoute[] = [
        { method: "GET", path: "/health" },
        { method: "GET", path: "/v1/models" },
        { method: "POST", path: "/v1/chat/completions", body: chat },
        { method: "POST", path: "/v1/chat/completions", body: chat, headers: { "x-session-id": "fz" } },
        { method: "POST", path: "/sessions/fz/v1/chat/completions", body: chat },
        { method: "GET", path: "/sessions/fz/v1/models" },
        { method: "GET", path: "/trainer/requests" },
        { method: "POST", path: "/nope", body: chat },
      ];
      await fuzzAndCheck("swerex proxy", pid, {
        baseUrl,
        routes,
        isFailure: (s) => s >= 500,
      });
      expect((await raw(`${baseUrl}/v1/chat/completions`, { method: "POST", json: chat })).status).toBe(200);
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
