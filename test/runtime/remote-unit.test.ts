/**
 * RemoteRuntime unit level: config, deadlines, backoff, error mapping and the subclass hooks, with undici's
 * MockAgent standing in for the network (our `dispatcher` option), plus loopback-only failure cases.
 */

import { Agent, MockAgent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  EnvironmentExpiredError,
  EnvironmentUnavailableError,
  FileNotFoundError,
  PythonTimeoutError,
  SwerexError,
} from "../../src/runtime/errors.js";
import {
  commandDeadlineMs,
  isTransientTransportError,
  nextBackoff,
  plainDeadlineMs,
  RemoteHttpError,
  RemoteRuntime,
  RemoteRuntimeConfig,
  type RemoteRuntimeOptions,
} from "../../src/runtime/remote.js";
import { freePort } from "../helpers/net.js";

const HOST = "http://sandbox.test";
let mock: MockAgent | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

function newMock(): MockAgent {
  const agent = new MockAgent();
  agent.disableNetConnect();
  mock = agent;
  return agent;
}

function mocked(opts: Partial<RemoteRuntimeOptions> = {}): { rt: RemoteRuntime; net: MockAgent } {
  const net = newMock();
  return {
    rt: new RemoteRuntime({ auth_token: "tok", host: HOST, retry_backoff: 0.01, dispatcher: net, ...opts }),
    net,
  };
}

function envelope(class_path: string, message: string, extra_info: Record<string, unknown> = {}) {
  return JSON.stringify({ swerexception: { message, class_path, traceback: "Traceback ...", extra_info } });
}

describe("RemoteRuntimeConfig", () => {
  it("has upstream's defaults plus ours, and forbids unknown keys", () => {
    expect(RemoteRuntimeConfig.parse({ auth_token: "x" })).toEqual({
      type: "remote",
      auth_token: "x",
      host: "http://127.0.0.1",
      port: null,
      timeout: 0.15,
      num_retries: 3,
      retry_backoff: 0.1,
      retry_backoff_max: 5,
      request_timeout_margin: 30,
      request_timeout: 120,
    });
    expect(() => RemoteRuntimeConfig.parse({ auth_token: "x", bogus: 1 })).toThrow();
    expect(() => RemoteRuntimeConfig.parse({})).toThrow();
  });
});

describe("deadlines", () => {
  const config = RemoteRuntimeConfig.parse({ auth_token: "" });
  it("gives a command its own timeout plus the margin, with no 300 s cap", () => {
    expect(commandDeadlineMs(5, config)).toBe(35_000);
    expect(commandDeadlineMs(3600, config)).toBe(3_630_000);
  });
  it("gives a command without timeout no deadline at all", () => {
    expect(commandDeadlineMs(null, config)).toBeNull();
  });
  it("uses request_timeout for requests without a timeout of their own; null means none", () => {
    expect(plainDeadlineMs(config)).toBe(120_000);
    expect(plainDeadlineMs({ ...config, request_timeout: null })).toBeNull();
  });
});

describe("retry policy", () => {
  it("backs off as upstream: min(2 * previous + U(0, 0.5), max)", () => {
    expect(nextBackoff(0.1, 5, () => 0)).toBeCloseTo(0.2);
    expect(nextBackoff(0.1, 5, () => 1)).toBeCloseTo(0.7);
    expect(nextBackoff(4, 5, () => 0.5)).toBe(5);
  });
  it("treats refused/reset connections as transient, other errors not", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(isTransientTransportError(refused)).toBe(true);
    expect(isTransientTransportError(new AggregateError([refused]))).toBe(true);
    expect(isTransientTransportError(new DOMException("timed out", "TimeoutError"))).toBe(false);
    expect(isTransientTransportError(new SyntaxError("bad json"))).toBe(false);
  });
});

describe("RemoteRuntime against a mocked network", () => {
  it("sends the key, JSON with every default filled in, and parses the answer", async () => {
    const { rt, net } = mocked();
    let seen: { headers: Record<string, string>; body: unknown } | undefined;
    net
      .get(HOST)
      .intercept({ path: "/execute", method: "POST" })
      .reply((opts) => {
        seen = { headers: opts.headers as Record<string, string>, body: JSON.parse(String(opts.body)) };
        return { statusCode: 200, data: { stdout: "hi\n", stderr: "", exit_code: 0 } };
      });
    expect(await rt.execute({ command: "echo hi", shell: true })).toEqual({
      stdout: "hi\n",
      stderr: "",
      exit_code: 0,
    });
    expect(seen?.headers["X-API-Key"]).toBe("tok");
    expect(seen?.headers["X-Request-ID"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen?.body).toEqual({
      command: "echo hi",
      timeout: null,
      shell: true,
      check: false,
      error_msg: "",
      env: null,
      cwd: null,
      merge_output_streams: false,
    });
  });

  it("sends no X-API-Key when the token is empty", async () => {
    const { rt, net } = mocked({ auth_token: "" });
    let headers: Record<string, string> = {};
    net
      .get(HOST)
      .intercept({ path: "/read_file", method: "POST" })
      .reply((opts) => {
        headers = opts.headers as Record<string, string>;
        return { statusCode: 200, data: { content: "x" } };
      });
    await rt.readFile({ path: "/x" });
    expect(headers["X-API-Key"]).toBeUndefined();
  });

  it("re-raises a 511 as the registered TS class with extra_info", async () => {
    const { rt, net } = mocked();
    net
      .get(HOST)
      .intercept({ path: "/read_file", method: "POST" })
      .reply(511, envelope("builtins.FileNotFoundError", "[Errno 2] No such file", { k: 1 }));
    const err = await rt.readFile({ path: "/nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileNotFoundError);
    expect((err as FileNotFoundError).message).toBe("[Errno 2] No such file");
    expect((err as FileNotFoundError).extraInfo).toEqual({ k: 1 });
  });

  it("maps an unknown Python class_path to a plain SwerexError that keeps the remote class", async () => {
    const { rt, net } = mocked();
    net
      .get(HOST)
      .intercept({ path: "/execute", method: "POST" })
      .reply(511, envelope("some.module.WeirdError", "weird"));
    const err = await rt.execute({ command: "x" }).catch((e: unknown) => e);
    expect((err as Error).constructor).toBe(SwerexError);
    expect((err as Error).message).toBe("weird");
    expect((err as { remoteClassPath?: string }).remoteClassPath).toBe("some.module.WeirdError");
  });

  it("turns other error statuses into RemoteHttpError with the status and a body excerpt", async () => {
    const { rt, net } = mocked();
    net
      .get(HOST)
      .intercept({ path: "/write_file", method: "POST" })
      .reply(500, "Internal Server Error: kaboom");
    net.get(HOST).intercept({ path: "/read_file", method: "POST" }).reply(511, "<html>captive portal</html>");
    const err = await rt.writeFile({ path: "/x", content: "y" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteHttpError);
    expect((err as RemoteHttpError).status).toBe(500);
    expect((err as Error).message).toBe(
      `POST ${HOST}/write_file returned HTTP 500: Internal Server Error: kaboom`,
    );
    const portal = await rt.readFile({ path: "/x" }).catch((e: unknown) => e);
    expect(portal).toBeInstanceOf(RemoteHttpError);
    expect((portal as RemoteHttpError).status).toBe(511);
  });

  it("retries 503 with the same X-Request-ID and succeeds", async () => {
    const { rt, net } = mocked();
    const ids: string[] = [];
    const pool = net.get(HOST);
    const record = (status: number, data: object) => (opts: { headers?: unknown }) => {
      ids.push((opts.headers as Record<string, string>)["X-Request-ID"] as string);
      return { statusCode: status, data };
    };
    pool.intercept({ path: "/execute", method: "POST" }).reply(record(503, { detail: "busy" }));
    pool.intercept({ path: "/execute", method: "POST" }).reply(record(502, { detail: "bad gateway" }));
    pool
      .intercept({ path: "/execute", method: "POST" })
      .reply(record(200, { stdout: "ok", stderr: "", exit_code: 0 }));
    expect((await rt.execute({ command: "x" })).stdout).toBe("ok");
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it("gives up after num_retries and reports the last status", async () => {
    const { rt, net } = mocked({ num_retries: 1 });
    net.get(HOST).intercept({ path: "/execute", method: "POST" }).reply(503, "busy").times(2);
    const err = await rt.execute({ command: "x" }).catch((e: unknown) => e);
    expect((err as RemoteHttpError).status).toBe(503);
  });

  it("does not retry a 500 or a 511", async () => {
    const { rt, net } = mocked();
    net.get(HOST).intercept({ path: "/execute", method: "POST" }).reply(500, "no");
    await expect(rt.execute({ command: "x" })).rejects.toBeInstanceOf(RemoteHttpError);
    // A second call would need a second interceptor: MockAgent throws if one is missing.
    net.assertNoPendingInterceptors();
  });

  it("isAlive never throws: non-200 and 511 answer false with a message", async () => {
    const { rt, net } = mocked();
    net.get(HOST).intercept({ path: "/is_alive", method: "GET" }).reply(403, { detail: "Not authenticated" });
    net
      .get(HOST)
      .intercept({ path: "/is_alive", method: "GET" })
      .reply(511, envelope("builtins.RuntimeError", "dead"));
    expect(await rt.isAlive()).toEqual({
      is_alive: false,
      message: `Status code 403 from ${HOST}/is_alive. Message: Not authenticated`,
    });
    expect(await rt.isAlive()).toEqual({ is_alive: false, message: "dead" });
  });
});

describe("extension hooks (what AGSRuntime builds on)", () => {
  class TokenRuntime extends RemoteRuntime {
    token = "old";
    refreshes = 0;
    protected override async requestHeaders(): Promise<Record<string, string>> {
      return { ...(await super.requestHeaders()), "X-Access-Token": this.token };
    }
    protected override async onErrorStatus(status: number, body: string): Promise<"retry" | undefined> {
      if (status === 401) {
        this.refreshes += 1;
        this.token = `new${this.refreshes}`;
        return "retry";
      }
      if (status === 404) throw new EnvironmentExpiredError(`sandbox gone: ${body}`);
      return undefined;
    }
  }

  function tokenRuntime(): { rt: TokenRuntime; net: MockAgent } {
    const net = newMock();
    return {
      rt: new TokenRuntime({ auth_token: "", host: HOST, dispatcher: net, headers: { "X-Extra": "1" } }),
      net,
    };
  }

  it("retries once a hook asks to, with freshly computed headers", async () => {
    const { rt, net } = tokenRuntime();
    const tokens: string[] = [];
    const pool = net.get(HOST);
    for (const status of [401, 200]) {
      pool.intercept({ path: "/read_file", method: "POST" }).reply((opts) => {
        const headers = opts.headers as Record<string, string>;
        tokens.push(`${headers["X-Access-Token"]}/${headers["X-Extra"]}`);
        return { statusCode: status, data: status === 200 ? { content: "ok" } : { detail: "expired token" } };
      });
    }
    expect((await rt.readFile({ path: "/x" })).content).toBe("ok");
    expect(tokens).toEqual(["old/1", "new1/1"]);
  });

  it("lets a hook replace the error (404 → EnvironmentExpiredError)", async () => {
    const { rt, net } = tokenRuntime();
    net.get(HOST).intercept({ path: "/execute", method: "POST" }).reply(404, "no such instance");
    await expect(rt.execute({ command: "x" })).rejects.toThrow(EnvironmentExpiredError);
  });

  it("caps hook-driven retries", async () => {
    const { rt, net } = tokenRuntime();
    net.get(HOST).intercept({ path: "/execute", method: "POST" }).reply(401, "nope").times(4);
    const err = await rt.execute({ command: "x" }).catch((e: unknown) => e);
    expect((err as RemoteHttpError).status).toBe(401);
    expect(rt.refreshes).toBe(4);
  });
});

describe("RemoteRuntime on loopback failures", () => {
  it("is_alive of a host that does not resolve is falsy and does not throw", async () => {
    // Name resolution fails the way a non-existent host does, without asking any DNS server.
    const noDns = new Agent({
      connect: {
        lookup: (hostname, _opts, cb) =>
          cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 4),
      },
    });
    const rt = new RemoteRuntime({
      auth_token: "",
      host: "http://doesnotexist.example.com",
      dispatcher: noDns,
    });
    try {
      const r = await rt.isAlive();
      expect(r.is_alive).toBe(false);
      expect(r.message).toContain("Failed to connect to http://doesnotexist.example.com");
      expect(r.message).toContain("ENOTFOUND");
    } finally {
      await noDns.close();
    }
  });

  it("is_alive of a closed port is falsy; requests retry and then fail with EnvironmentUnavailableError", async () => {
    const port = await freePort();
    const rt = new RemoteRuntime({
      auth_token: "k",
      host: "127.0.0.1",
      port,
      num_retries: 2,
      retry_backoff: 0.01,
    });
    try {
      expect((await rt.isAlive({ timeoutMs: 5_000 })).is_alive).toBe(false);
      const err = await rt.execute({ command: "x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvironmentUnavailableError);
      expect((err as Error).message).toMatch(/failed after 3 attempt\(s\): .*ECONNREFUSED/);
      expect((err as Error).message).not.toContain("X-API-Key");
    } finally {
      await rt.dispose();
    }
  });

  it("waitUntilAlive gives up with upstream's TimeoutError message", async () => {
    const port = await freePort();
    const rt = new RemoteRuntime({ auth_token: "", port });
    try {
      const err = await rt.waitUntilAlive({ timeoutMs: 600 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PythonTimeoutError);
      expect((err as Error).message).toMatch(
        /^Runtime did not start within 0\.6s \(tried to connect \d+ times\)\. The last await response was:\nFailed to connect to http:\/\/127\.0\.0\.1:\d+/,
      );
    } finally {
      await rt.dispose();
    }
  });
});
