/**
 * The runtime server's HTTP contract (spec 4.2/4.3) over real loopback HTTP, around runtimes whose behaviour
 * the test controls. End-to-end behaviour with real bash sessions is in test/runtime/remote.test.ts.
 */
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { BashIncorrectSyntaxError } from "../../src/runtime/errors.js";
import type { CommandInput, CommandResponse, IsAliveResponse } from "../../src/runtime/protocol.js";
import { RUNTIME_SERVER_ROUTES } from "../../src/server/runtime-server.js";
import { captureLines, type LoopbackServer, raw, serveOnLoopback } from "./helpers.js";

const KEY = "server-test-key";
const auth = { "X-API-Key": KEY };

/** Counts `execute` calls; each one waits until `release()` (or runs at once when not gated). */
class GatedRuntime extends DummyRuntime {
  executions = 0;
  gated = false;
  failNext: Error | undefined;
  private waiters: (() => void)[] = [];
  override async execute(cmd: CommandInput): Promise<CommandResponse> {
    this.executions += 1;
    const n = this.executions;
    if (this.gated) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    return { stdout: `run ${n}: ${String(cmd.command)}`, stderr: "", exit_code: 0 };
  }
  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  override async isAlive(): Promise<IsAliveResponse> {
    return { is_alive: true, message: `executions=${this.executions}` };
  }
}

describe("runtime server with auth", () => {
  const runtime = new GatedRuntime();
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await serveOnLoopback(runtime, KEY);
  });
  afterAll(async () => {
    runtime.release();
    await server?.close();
  });
  afterEach(() => {
    runtime.gated = false;
    runtime.release();
  });

  it("GET / says hello world", async () => {
    const r = await raw(`${server.url}/`, { headers: auth });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ message: "hello world" });
  });

  it("GET /is_alive answers the runtime's liveness", async () => {
    const r = await raw(`${server.url}/is_alive`, { headers: auth });
    expect(r.status).toBe(200);
    expect((r.json as IsAliveResponse).is_alive).toBe(true);
  });

  it("answers 403 Not authenticated to a GET without key on all ten paths (auth before routing)", async () => {
    expect(RUNTIME_SERVER_ROUTES).toHaveLength(10);
    for (const { path } of RUNTIME_SERVER_ROUTES) {
      const r = await raw(`${server.url}${path}`);
      expect({ path, status: r.status, json: r.json }).toEqual({
        path,
        status: 403,
        json: { detail: "Not authenticated" },
      });
    }
  });

  it("answers 401 Invalid API Key to a wrong key, on known and unknown paths", async () => {
    for (const path of ["/is_alive", "/execute", "/no_such_path"]) {
      const r = await raw(`${server.url}${path}`, { headers: { "X-API-Key": "wrong" } });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ detail: "Invalid API Key" });
    }
  });

  it("answers 405 for a wrong method and 404 for an unknown path once authenticated", async () => {
    expect((await raw(`${server.url}/execute`, { headers: auth })).status).toBe(405);
    expect((await raw(`${server.url}/is_alive`, { method: "POST", headers: auth })).status).toBe(405);
    const r = await raw(`${server.url}/no_such_path`, { headers: auth });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ detail: "Not Found" });
  });

  it("answers 422 naming the missing field", async () => {
    const r = await raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { shell: true } });
    expect(r.status).toBe(422);
    expect(r.json).toEqual({
      detail: [{ type: "missing", loc: ["body", "command"], msg: "Field required" }],
    });
  });

  it("answers 422 naming a field of the wrong type", async () => {
    const r = await raw(`${server.url}/run_in_session`, {
      method: "POST",
      headers: auth,
      json: { command: "ls", timeout: "soon" },
    });
    expect(r.status).toBe(422);
    const detail = (r.json as { detail: { loc: unknown[]; type: string }[] }).detail;
    expect(detail).toHaveLength(1);
    expect(detail[0]?.loc).toEqual(["body", "timeout"]);
    expect(detail[0]?.type).toBe("number_type");
  });

  it("answers 422 to an unknown action_type and to a body that is not JSON", async () => {
    const bad = await raw(`${server.url}/run_in_session`, {
      method: "POST",
      headers: auth,
      json: { action_type: "python", command: "ls" },
    });
    expect(bad.status).toBe(422);
    expect((bad.json as { detail: { loc: unknown[] }[] }).detail[0]?.loc).toEqual(["body", "action_type"]);
    const notJson = await raw(`${server.url}/write_file`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(422);
    expect((notJson.json as { detail: { type: string }[] }).detail[0]?.type).toBe("json_invalid");
  });

  it("sends runtime errors as HTTP 511 with the Python class_path and extra_info", async () => {
    runtime.failNext = new BashIncorrectSyntaxError("bad syntax", {
      extraInfo: { bash_stdout: "", bash_stderr: "x" },
    });
    const r = await raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { command: "(a" } });
    expect(r.status).toBe(511);
    const body = r.json as { swerexception: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(["swerexception"]);
    expect(Object.keys(body.swerexception).sort()).toEqual([
      "class_path",
      "extra_info",
      "message",
      "traceback",
    ]);
    expect(body.swerexception.class_path).toBe("swerex.exceptions.BashIncorrectSyntaxError");
    expect(body.swerexception.message).toBe("bad syntax");
    expect(body.swerexception.extra_info).toEqual({ bash_stdout: "", bash_stderr: "x" });
    expect(typeof body.swerexception.traceback).toBe("string");
  });

  it("maps Node system errors to Python built-ins in the 511 envelope", async () => {
    runtime.failNext = Object.assign(new Error("ENOENT: no such file or directory, open '/nope'"), {
      code: "ENOENT",
    });
    const r = await raw(`${server.url}/execute`, {
      method: "POST",
      headers: auth,
      json: { command: "cat /nope" },
    });
    expect(r.status).toBe(511);
    expect((r.json as { swerexception: { class_path: string } }).swerexception.class_path).toBe(
      "builtins.FileNotFoundError",
    );
  });

  it("runs a request once per X-Request-ID, even when the retry arrives while the first still runs", async () => {
    runtime.gated = true;
    const before = runtime.executions;
    const headers = { ...auth, "X-Request-ID": "same-id-1" };
    const first = raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "echo x" } });
    await expect.poll(() => runtime.executions, { timeout: 10_000 }).toBe(before + 1);
    const retry = raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "echo x" } });
    // The retry must be waiting on the first, not running: give it time to (wrongly) start.
    await new Promise((r) => setTimeout(r, 200));
    expect(runtime.executions).toBe(before + 1);
    runtime.release();
    const [a, b] = await Promise.all([first, retry]);
    expect(a.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(runtime.executions).toBe(before + 1);
    // A retry after completion gets the remembered answer too.
    const late = await raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "echo x" } });
    expect(late.body).toBe(a.body);
    expect(runtime.executions).toBe(before + 1);
  });

  it("runs requests with different or no X-Request-ID separately", async () => {
    const before = runtime.executions;
    await raw(`${server.url}/execute`, {
      method: "POST",
      headers: { ...auth, "X-Request-ID": "a1" },
      json: { command: "a" },
    });
    await raw(`${server.url}/execute`, {
      method: "POST",
      headers: { ...auth, "X-Request-ID": "a2" },
      json: { command: "a" },
    });
    await raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { command: "a" } });
    await raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { command: "a" } });
    expect(runtime.executions).toBe(before + 4);
  });

  it("runs a reused X-Request-ID with a different body as a new request (issue 13 item 6)", async () => {
    const before = runtime.executions;
    const headers = { ...auth, "X-Request-ID": "reused-id" };
    const first = await raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "first" } });
    const second = await raw(`${server.url}/execute`, {
      method: "POST",
      headers,
      json: { command: "second" },
    });
    expect((first.json as CommandResponse).stdout).toBe(`run ${before + 1}: first`);
    expect((second.json as CommandResponse).stdout).toBe(`run ${before + 2}: second`);
    // The first body again is still a retry of the first request.
    const retry = await raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "first" } });
    expect(retry.body).toBe(first.body);
    expect(runtime.executions).toBe(before + 2);
  });

  it("remembers 511 answers for a retried X-Request-ID instead of running again", async () => {
    const before = runtime.executions;
    runtime.failNext = new Error("boom");
    const headers = { ...auth, "X-Request-ID": "fails-once" };
    const first = await raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "a" } });
    const again = await raw(`${server.url}/execute`, { method: "POST", headers, json: { command: "a" } });
    expect(first.status).toBe(511);
    expect(again.status).toBe(511);
    expect(again.body).toBe(first.body);
    expect(runtime.executions).toBe(before + 1);
  });

  it("never answers /is_alive from the request-id cache", async () => {
    const headers = { ...auth, "X-Request-ID": "alive-1" };
    const before = await raw(`${server.url}/is_alive`, { headers });
    await raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { command: "a" } });
    const after = await raw(`${server.url}/is_alive`, { headers });
    expect((after.json as IsAliveResponse).message).not.toBe((before.json as IsAliveResponse).message);
  });

  it("keeps answering /is_alive while a long request runs", async () => {
    runtime.gated = true;
    const long = raw(`${server.url}/execute`, { method: "POST", headers: auth, json: { command: "sleep" } });
    await expect.poll(() => runtime.executions > 0, { timeout: 10_000 }).toBe(true);
    const alive = await raw(`${server.url}/is_alive`, { headers: auth });
    expect(alive.status).toBe(200);
    expect((alive.json as IsAliveResponse).is_alive).toBe(true);
    runtime.release();
    expect((await long).status).toBe(200);
  });
});

describe("runtime server without auth", () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await serveOnLoopback(new DummyRuntime(), "");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("accepts requests with no key when the token is empty", async () => {
    const r = await raw(`${server.url}/is_alive`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ is_alive: true, message: "" });
  });

  it("fills in the discriminators and defaults of a bare body", async () => {
    const r = await raw(`${server.url}/run_in_session`, { method: "POST", json: { command: "ls" } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      output: "",
      exit_code: 0,
      failure_reason: "",
      expect_string: "",
      session_type: "bash",
    });
  });

  it("accepts POST /close with no body and with an empty JSON body", async () => {
    expect((await raw(`${server.url}/close`, { method: "POST" })).json).toEqual({});
    const r = await raw(`${server.url}/close`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "",
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({});
  });
});

describe("runtime server logging", () => {
  it("never writes the X-API-Key to its logs", async () => {
    const { sink, lines } = captureLines();
    const logger = pino({ level: "trace" }, sink);
    const server = await serveOnLoopback(new DummyRuntime(), KEY, logger);
    try {
      const secretAttempt = "wrong-but-secret-key-123";
      expect((await raw(`${server.url}/is_alive`, { headers: { "X-API-Key": secretAttempt } })).status).toBe(
        401,
      );
      expect((await raw(`${server.url}/is_alive`, { headers: auth })).status).toBe(200);
      const log = lines.join("");
      expect(log).toContain("rejected request");
      expect(log).toContain("[redacted]");
      expect(log).not.toContain(secretAttempt);
      expect(log).not.toContain(KEY);
    } finally {
      await server.close();
    }
  });
});
