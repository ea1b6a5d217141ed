/**
 * The runtime pass-through of a real `swerex serve` (local backend: a swerex-remote child per sandbox):
 * the SWE-ReX conformance suite through `RemoteRuntime(host=runtime_url, auth_token=API key)`, and what
 * the pass-through itself answers (swerex-remote's auth answers, unknown and stopped sandboxes, the 511
 * envelope, X-Request-ID replay, the sandbox token never shown).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { createStore } from "../../src/store/index.js";
import { defineSessionConformance } from "../runtime/conformance.js";
import { api, newDataDir, type ServeProcess, startServe, testServiceId } from "./serve.js";

const KEY = "pass-through-key-0123456789";
const OTHER = "pass-through-other-key-9876";

let data: Awaited<ReturnType<typeof newDataDir>>;
let serve: ServeProcess;
let sandbox: { id: string; runtime_url: string };

beforeAll(async () => {
  data = await newDataDir();
  serve = await startServe({
    dataDir: data.dir,
    keys: [KEY, OTHER],
    serviceId: testServiceId(),
    args: ["--instances.deployment.type=local"],
  });
  const res = await api(serve.url, "POST", "/v1/sandboxes", { key: KEY });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  sandbox = res.body;
}, 180_000);

afterAll(async () => {
  await serve?.stop();
  await data?.remove();
});

defineSessionConformance("RemoteRuntime through the swerex serve pass-through", async () => {
  const runtime = new RemoteRuntime({ host: sandbox.runtime_url, auth_token: KEY, timeout: 10 });
  return {
    runtime,
    cleanup: () =>
      runtime.close().then(
        () => undefined,
        () => undefined,
      ),
  };
});

describe("the pass-through itself", () => {
  const rt = (path: string, opts: Parameters<typeof api>[3] = {}) =>
    api(serve.url, opts.body === undefined ? "GET" : "POST", `/v1/sandboxes/${sandbox.id}/runtime${path}`, {
      key: KEY,
      ...opts,
    });

  it("answers / and is_alive as swerex-remote does, with or without the trailing slash", async () => {
    expect(await rt("/")).toMatchObject({ status: 200, body: { message: "hello world" } });
    expect(await rt("")).toMatchObject({ status: 200, body: { message: "hello world" } });
    expect(await rt("/is_alive")).toMatchObject({ status: 200, body: { is_alive: true, message: "" } });
  });

  it("gives swerex-remote's auth answers: 403 without a key, 401 with a wrong one; Bearer works too", async () => {
    const none = await api(serve.url, "GET", `/v1/sandboxes/${sandbox.id}/runtime/is_alive`);
    expect(none).toMatchObject({ status: 403, body: { detail: "Not authenticated" } });
    const wrong = await rt("/is_alive", { key: "nope" });
    expect(wrong).toMatchObject({ status: 401, body: { detail: "Invalid API Key" } });
    const bearer = await api(serve.url, "GET", `/v1/sandboxes/${sandbox.id}/runtime/is_alive`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("answers 404 for another key's or an unknown sandbox", async () => {
    const other = await rt("/is_alive", { key: OTHER });
    expect(other.status).toBe(404);
    expect(other.body.detail).toBe(`no sandbox ${sandbox.id}`);
    const unknown = await api(serve.url, "GET", "/v1/sandboxes/sbx-nosuchnosuchnosuchn/runtime/is_alive", {
      key: KEY,
    });
    expect(unknown.status).toBe(404);
  });

  it("passes the 511 exception envelope and 422 validation answers through unchanged", async () => {
    const missing = await rt("/run_in_session", { body: { session: "nope", command: "true" } });
    expect(missing.status).toBe(511);
    expect(missing.body.swerexception.class_path).toContain("SessionDoesNotExistError");
    const invalid = await rt("/execute", { body: { nocommand: true } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.detail[0].loc).toEqual(["body", "command"]);
  });

  it("keeps X-Request-ID idempotency: a retried create_session gets the first answer", async () => {
    const headers = { "x-request-id": `rid-${Date.now()}` };
    const body = { session: `idem-${Date.now()}`, startup_timeout: 60 };
    const first = await rt("/create_session", { body, headers });
    const second = await rt("/create_session", { body, headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const third = await rt("/create_session", { body });
    expect(third.status).toBe(511);
  });

  it("never shows the sandbox's own token, in answers or in the log", async () => {
    const store = await createStore(`sqlite:${data.dir}/swerex.db`);
    const rec = await store.getSandbox(sandbox.id);
    await store.close();
    const token = (rec?.handle as { auth_token?: string } | null)?.auth_token;
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    const answers = [
      await api(serve.url, "GET", `/v1/sandboxes/${sandbox.id}`, { key: KEY }),
      await api(serve.url, "GET", "/v1/sandboxes", { key: KEY }),
      await rt("/is_alive"),
    ];
    for (const a of answers) {
      expect(a.text).not.toContain(token as string);
      expect([...a.headers.values()].join("\n")).not.toContain(token as string);
    }
    expect(serve.output()).not.toContain(token as string);
    expect(serve.output()).not.toContain(KEY);
  });

  it("answers 409 once the sandbox is deleted", async () => {
    const { body: other } = await api(serve.url, "POST", "/v1/sandboxes", { key: KEY });
    await api(serve.url, "DELETE", `/v1/sandboxes/${other.id}`, { key: KEY });
    const after = await api(serve.url, "GET", `/v1/sandboxes/${other.id}/runtime/is_alive`, { key: KEY });
    expect(after.status).toBe(409);
    expect(after.body.detail).toBe(`sandbox ${other.id} is stopped, not running`);
  }, 60_000);
});
