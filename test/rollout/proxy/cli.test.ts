/**
 * `swerex proxy` as a real process: an agent started by hand talks to it at the printed base URL; SIGTERM
 * flushes the `--record` JSONL; a recorded run replays through `--policy.type=replay`; bad flags exit 2.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ModelCallRecord } from "../../../src/rollout/types.js";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream.js";

const dir = mkdtempSync(join(tmpdir(), "swerex-proxy-cli-"));
const children: ChildProcess[] = [];
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await upstream?.close();
  upstream = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  baseUrl: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/swerex.ts", "proxy", ...args], {
    cwd: process.cwd(),
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SWEREX_LOG_LEVEL: "info" },
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start in time; stderr:\n${err}`)), 60_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /OPENAI_BASE_URL=(\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, baseUrl: m[1], stderr: () => err, exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}; stderr:\n${err}`));
    });
  });
}

async function chat(baseURL: string, text: string): Promise<string> {
  const c = new OpenAI({ baseURL, apiKey: "x", maxRetries: 0, timeout: 30_000 });
  const r = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: text }] });
  return r.choices[0]?.message.content ?? "";
}

describe("swerex proxy", () => {
  it("serves an agent, records to JSONL (flushed on SIGTERM) and replays the recording", async () => {
    upstream = await startFakeUpstream();
    const record = join(dir, "out.jsonl");
    const live = await startCli([
      "--port",
      "0",
      "--policy.type=openai",
      `--policy.base_url=${upstream.baseUrl}`,
      "--policy.api_key=sk-CLI-SECRET",
      "--policy.return_token_ids",
      "--policy.logprobs",
      "--record",
      record,
      "--max_steps",
      "2",
    ]);
    expect(live.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(await chat(live.baseUrl, "one")).toBe("echo: one");
    const root = live.baseUrl.replace(/\/v1$/, "");
    expect(await chat(`${root}/sessions/other/v1`, "two")).toBe("echo: two");
    expect(await chat(live.baseUrl, "three")).toBe("echo: three");
    const limited = await chat(live.baseUrl, "four").catch((e: unknown) => e);
    expect((limited as InstanceType<typeof OpenAI.APIError>).code).toBe("max_steps_exceeded");
    live.child.kill("SIGTERM");
    expect(await live.exit).toBe(143);
    const recs = readFileSync(record, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ModelCallRecord);
    expect(recs.map((r) => [r.session_id, r.step, r.response?.content ?? r.error?.code])).toEqual([
      ["default", 0, "echo: one"],
      ["other", 0, "echo: two"],
      ["default", 1, "echo: three"],
      ["default", 2, "max_steps_exceeded"],
    ]);
    expect(recs[0]?.response?.completion_token_ids?.length).toBe("echo: one".length);
    expect(live.stderr()).not.toContain("CLI-SECRET");
    expect(readFileSync(record, "utf8")).not.toContain("CLI-SECRET");

    const replay = await startCli(["--port", "0", "--policy.type=replay", `--policy.path=${record}`]);
    expect(await chat(replay.baseUrl, "anything")).toBe("echo: one");
    expect(await chat(replay.baseUrl, "anything")).toBe("echo: three");
    expect(await chat(`${replay.baseUrl.replace(/\/v1$/, "")}/sessions/other/v1`, "x")).toBe("echo: two");
    replay.child.kill("SIGINT");
    expect(await replay.exit).toBe(130);
  });

  it("without --max_steps a session has no call limit; an empty x-session-id is a 400 and it keeps serving", async () => {
    upstream = await startFakeUpstream();
    const live = await startCli([
      "--port",
      "0",
      "--policy.type=openai",
      `--policy.base_url=${upstream.baseUrl}`,
    ]);
    for (let i = 0; i < 32; i++) expect(await chat(live.baseUrl, `n${i}`)).toBe(`echo: n${i}`);
    const bad = await fetch(`${live.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-session-id": "" },
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("x-session-id");
    expect(await chat(live.baseUrl, "still here")).toBe("echo: still here");
    live.child.kill("SIGTERM");
    expect(await live.exit).toBe(143);
  });

  it("exits 2 naming the bad flag", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/swerex.ts", "proxy", "--policy.type=openai", "--max_steps=-1"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain("--max_steps");
    expect(err).toContain("--policy.base_url: required");
  });
});
