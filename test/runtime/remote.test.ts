/**
 * RemoteRuntime end to end: a real `swerex-remote` process (LocalRuntime inside) over real loopback HTTP.
 * SWE-ReX's test_execution.py cases come from the shared conformance suite; the rest is what only the
 * client/server pair does: idempotent retries, concurrency across sessions, liveness during long commands.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { RUNTIME_SERVER_ROUTES } from "../../src/server/runtime-server.js";
import { type SpawnedRuntimeServer, spawnRuntimeServerProcess } from "../../src/server/spawn.js";
import { raw } from "../server/helpers.js";
import { defineSessionConformance } from "./conformance.js";

const KEY = "remote-test-key";
const STARTUP = { startup_timeout: 60 };

defineSessionConformance("RemoteRuntime over swerex-remote", async () => {
  const server = await spawnRuntimeServerProcess({ authToken: KEY });
  const runtime = new RemoteRuntime({ auth_token: KEY, host: server.url, timeout: 10 });
  return {
    runtime,
    cleanup: async () => {
      await runtime.close().catch(() => undefined);
      await server.stop();
    },
  };
});

/** A loopback HTTP proxy in front of the server that misbehaves on purpose for the first requests. */
class FlakyProxy {
  readonly seenRequestIds: string[] = [];
  /** What to do with the next requests, front first; afterwards everything is forwarded. */
  plan: ("503" | "forward-then-drop")[] = [];
  private server: Server | undefined;
  url = "";

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.url !== "/is_alive") this.seenRequestIds.push(String(req.headers["x-request-id"]));
    const step = req.url === "/is_alive" ? undefined : this.plan.shift();
    if (step === "503") {
      res.writeHead(503, { "content-type": "application/json" }).end('{"detail":"gateway busy"}');
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string" && !["host", "connection", "content-length"].includes(k)) headers[k] = v;
    }
    const upstream = await request(`${this.target}${req.url}`, {
      method: req.method as "GET" | "POST",
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      signal: AbortSignal.timeout(60_000),
    });
    const body = Buffer.from(await upstream.body.arrayBuffer());
    if (step === "forward-then-drop") {
      // The server did the work; the client never hears about it (a gateway resetting the connection).
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.statusCode, { "content-type": "application/json" }).end(body);
  }
}

describe("RemoteRuntime and swerex-remote together", () => {
  let server: SpawnedRuntimeServer;
  let runtime: RemoteRuntime;
  let tmp: string;
  beforeAll(async () => {
    server = await spawnRuntimeServerProcess({ authToken: KEY });
    runtime = new RemoteRuntime({ auth_token: KEY, host: server.url, timeout: 10 });
    tmp = await mkdtemp(join(tmpdir(), "swerex-remote-test-"));
  });
  afterAll(async () => {
    await runtime?.close().catch(() => undefined);
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe("HTTP contract of the process (upstream test_server.py and more)", () => {
    it("GET / says hello world and GET /is_alive is alive, with the key", async () => {
      expect((await raw(`${server.url}/`, { headers: { "X-API-Key": KEY } })).json).toEqual({
        message: "hello world",
      });
      expect((await raw(`${server.url}/is_alive`, { headers: { "X-API-Key": KEY } })).json).toEqual({
        is_alive: true,
        message: "",
      });
    });

    it("answers 403 to GET without key on all 10 paths, 401 to a wrong key", async () => {
      for (const { path } of RUNTIME_SERVER_ROUTES) {
        const r = await raw(`${server.url}${path}`);
        expect({ path, status: r.status }).toEqual({ path, status: 403 });
      }
      const wrong = await raw(`${server.url}/is_alive`, { headers: { "X-API-Key": "nope" } });
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual({ detail: "Invalid API Key" });
    });

    it("answers 422 naming the missing field", async () => {
      const r = await raw(`${server.url}/read_file`, {
        method: "POST",
        headers: { "X-API-Key": KEY },
        json: {},
      });
      expect(r.status).toBe(422);
      expect(r.json).toEqual({ detail: [{ type: "missing", loc: ["body", "path"], msg: "Field required" }] });
    });

    it("sends a missing file as 511 with class_path builtins.FileNotFoundError", async () => {
      const r = await raw(`${server.url}/read_file`, {
        method: "POST",
        headers: { "X-API-Key": KEY },
        json: { path: join(tmp, "does-not-exist") },
      });
      expect(r.status).toBe(511);
      const t = (r.json as { swerexception: Record<string, unknown> }).swerexception;
      expect(Object.keys(t).sort()).toEqual(["class_path", "extra_info", "message", "traceback"]);
      expect(t.class_path).toBe("builtins.FileNotFoundError");
      expect(t.message).toContain("does-not-exist");
    });
  });

  async function rawRunInSession(command: string, requestId: string, session: string) {
    const res = await request(`${server.url}/run_in_session`, {
      method: "POST",
      headers: { "X-API-Key": KEY, "X-Request-ID": requestId, "content-type": "application/json" },
      body: JSON.stringify({ command, session, timeout: 60 }),
      signal: AbortSignal.timeout(90_000),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  it("executes a retried X-Request-ID once, even while the first request is still running", async () => {
    await runtime.createSession({ session: "idem", ...STARTUP });
    const file = join(tmp, "idem.txt");
    const command = `echo x >> ${file}; sleep 1`;
    const first = rawRunInSession(command, "dup-1", "idem");
    await new Promise((r) => setTimeout(r, 300));
    const second = rawRunInSession(command, "dup-1", "idem");
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe(200);
    expect(b).toEqual(a);
    expect(await readFile(file, "utf8")).toBe("x\n");
    // A new id is a new command.
    await rawRunInSession(command, "dup-2", "idem");
    expect(await readFile(file, "utf8")).toBe("x\nx\n");
    await runtime.closeSession({ session: "idem" });
  });

  it("runs 8 sessions concurrently through one server, isolated from each other", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `par${i}`);
    await Promise.all(names.map((session) => runtime.createSession({ session, ...STARTUP })));
    await Promise.all(
      names.map((session, i) => runtime.runInSession({ session, command: `v=${i}`, timeout: 60 })),
    );
    const started = Date.now();
    const outputs = await Promise.all(
      names.map((session) => runtime.runInSession({ session, command: "sleep 2; echo $v", timeout: 60 })),
    );
    const wall = Date.now() - started;
    expect(outputs.map((o) => o.output)).toEqual(names.map((_, i) => `${i}\n`));
    // Serially this takes at least 16 s; the bound is loose on purpose (shared CI cores), timing is in bench/.
    expect(wall).toBeLessThan(12_000);
    await Promise.all(names.map((session) => runtime.closeSession({ session })));
  });

  it("answers /is_alive while a long command runs in a session", async () => {
    await runtime.createSession({ session: "long", ...STARTUP });
    let done = false;
    const long = runtime.runInSession({ session: "long", command: "sleep 3", timeout: 60 }).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    const alive = await runtime.isAlive({ timeoutMs: 2_000 });
    expect(alive).toEqual({ is_alive: true, message: "" });
    expect(done).toBe(false);
    expect((await long).exit_code).toBe(0);
    await runtime.closeSession({ session: "long" });
  });

  describe("through a flaky gateway", () => {
    let proxy: FlakyProxy;
    let viaProxy: RemoteRuntime;
    beforeAll(async () => {
      proxy = new FlakyProxy(server.url);
      await proxy.start();
      viaProxy = new RemoteRuntime({ auth_token: KEY, host: proxy.url, retry_backoff: 0.05 });
      await viaProxy.createSession({ session: "flaky", ...STARTUP });
    });
    afterAll(async () => {
      await viaProxy?.closeSession({ session: "flaky" }).catch(() => undefined);
      await viaProxy?.dispose();
      await proxy?.stop();
    });

    it("retries 503 with the same X-Request-ID and runs the command once", async () => {
      const file = join(tmp, "retry503.txt");
      proxy.seenRequestIds.length = 0;
      proxy.plan = ["503", "503"];
      const obs = await viaProxy.runInSession({
        session: "flaky",
        command: `echo y >> ${file}`,
        timeout: 60,
      });
      expect(obs.exit_code).toBe(0);
      expect(proxy.seenRequestIds).toHaveLength(3);
      expect(new Set(proxy.seenRequestIds).size).toBe(1);
      expect(await readFile(file, "utf8")).toBe("y\n");
    });

    it("after a connection drop, the retry gets the first answer instead of running again", async () => {
      const file = join(tmp, "dropped.txt");
      proxy.seenRequestIds.length = 0;
      proxy.plan = ["forward-then-drop"];
      const obs = await viaProxy.runInSession({
        session: "flaky",
        command: `echo z >> ${file}; echo done`,
        timeout: 60,
      });
      expect(obs.output).toBe("done\n");
      expect(proxy.seenRequestIds).toHaveLength(2);
      expect(new Set(proxy.seenRequestIds).size).toBe(1);
      expect(await readFile(file, "utf8")).toBe("z\n");
    });
  });
});
