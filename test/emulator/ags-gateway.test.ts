import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgsEmulator, parseGatewayHost, type SandboxBackend } from "../../src/emulator/ags/index.js";
import { activeTool, echoBackend, ok, SECRET_KEY, testEmulator, waitStatus } from "./helpers.js";

describe("AGS emulator: gateway (echo backend)", () => {
  let emu: AgsEmulator;
  let toolId: string;
  beforeAll(async () => {
    emu = await testEmulator({
      tokenTtlSeconds: 600,
      defaultRateLimit: Number.POSITIVE_INFINITY,
    });
    toolId = await activeTool(emu.endpoint, {
      CustomConfiguration: { Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }] },
    });
  });
  afterAll(async () => {
    await emu?.close();
  });

  async function running(extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, ...extra });
    await waitStatus(emu.endpoint, r.Instance.InstanceId, "RUNNING");
    const t = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: r.Instance.InstanceId });
    return { id: r.Instance.InstanceId, token: t.Token };
  }

  const get = (url: string, headers: Record<string, string> = {}) =>
    request(url, { dispatcher: emu.dispatcher(), headers, signal: AbortSignal.timeout(30_000) });

  it("parses {port}-{instanceId}.{domain} hosts", () => {
    expect(
      parseGatewayHost("8000-abc123.ap-chongqing.tencentags.com", "ap-chongqing.tencentags.com"),
    ).toEqual({
      port: 8000,
      instanceId: "abc123",
    });
    expect(
      parseGatewayHost("8000-abc123.ap-chongqing.tencentags.com:443", "ap-chongqing.tencentags.com"),
    ).toEqual({
      port: 8000,
      instanceId: "abc123",
    });
    expect(parseGatewayHost("127.0.0.1:5000", "ap-chongqing.tencentags.com")).toBeUndefined();
    expect(
      parseGatewayHost("x-abc.ap-chongqing.tencentags.com", "ap-chongqing.tencentags.com"),
    ).toBeUndefined();
  });

  it("forwards https://{port}-{id}.{domain} through the dispatcher with the production Host, preserving headers", async () => {
    const { id, token } = await running();
    const url = `${emu.instanceUrl(id, 8000)}/is_alive?x=1`;
    expect(url).toBe(`https://8000-${id}.ap-chongqing.tencentags.com/is_alive?x=1`);
    const res = await get(url, { "X-Access-Token": token, "X-Request-ID": "req-42", "X-API-Key": "" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-echo"]).toBe("1");
    const echo = (await res.body.json()) as { method: string; url: string; headers: Record<string, string> };
    expect(echo.method).toBe("GET");
    expect(echo.url).toBe("/is_alive?x=1");
    expect(echo.headers["x-request-id"]).toBe("req-42");
    expect(echo.headers["x-forwarded-host"]).toBe(`8000-${id}.ap-chongqing.tencentags.com`);
    // The gateway token is not handed to the sandbox.
    expect(echo.headers["x-access-token"]).toBeUndefined();
  });

  it("streams a multipart upload through to the backend", async () => {
    const { id, token } = await running();
    const form = new FormData();
    const payload = "z".repeat(256 * 1024);
    form.append("file", new Blob([payload]), "a.txt");
    form.append("target_path", "/tmp/a.txt");
    const res = await request(`${emu.instanceUrl(id, 8000)}/upload`, {
      method: "POST",
      body: form,
      headers: { "X-Access-Token": token },
      dispatcher: emu.dispatcher(),
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.statusCode).toBe(200);
    const echo = (await res.body.json()) as { headers: Record<string, string>; body: string };
    expect(echo.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(echo.body).toContain(payload);
    expect(echo.body).toContain('name="target_path"');
  });

  it("401 without a token, with a foreign token, and after the token expires", async () => {
    const { id, token } = await running();
    const other = await running();
    const url = `${emu.instanceUrl(id, 8000)}/is_alive`;
    const none = await get(url);
    expect(none.statusCode).toBe(401);
    expect(await none.body.json()).toEqual({ code: 401, message: "missing X-Access-Token" });
    const foreign = await get(url, { "X-Access-Token": other.token });
    expect(foreign.statusCode).toBe(401);
    await foreign.body.dump();
    const good = await get(url, { "X-Access-Token": token });
    expect(good.statusCode).toBe(200);
    await good.body.dump();
    emu.inject.expireTokens(id);
    const expired = await get(url, { "X-Access-Token": token });
    expect(expired.statusCode).toBe(401);
    expect(await expired.body.json()).toEqual({ code: 401, message: "invalid or expired X-Access-Token" });
    // A fresh token works again; the other instance's token was untouched.
    const fresh = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const again = await get(url, { "X-Access-Token": fresh.Token });
    expect(again.statusCode).toBe(200);
    await again.body.dump();
    const otherOk = await get(`${emu.instanceUrl(other.id, 8000)}/`, { "X-Access-Token": other.token });
    expect(otherOk.statusCode).toBe(200);
    await otherOk.body.dump();
  });

  it("token TTL: a token issued with a 1 s TTL stops working after it", async () => {
    const short = await testEmulator({
      tokenTtlSeconds: 1,
    });
    try {
      const tool = await activeTool(short.endpoint);
      const r = await ok(short.endpoint, "StartSandboxInstance", { ToolId: tool });
      await waitStatus(short.endpoint, r.Instance.InstanceId, "RUNNING");
      const t0 = Date.now();
      const t = await ok(short.endpoint, "AcquireSandboxInstanceToken", {
        InstanceId: r.Instance.InstanceId,
      });
      const expiresAt = Date.parse(t.ExpiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(t0 + 1000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 1000);
      const url = `${short.instanceUrl(r.Instance.InstanceId, 8000)}/`;
      const opts = { dispatcher: short.dispatcher(), headers: { "X-Access-Token": t.Token } };
      await new Promise((res) => setTimeout(res, 1200));
      const late = await request(url, opts);
      expect(late.statusCode).toBe(401);
      await late.body.dump();
    } finally {
      await short.close();
    }
  });

  it("404 for unknown, paused and stopped instances; 502 for a port the tool does not expose", async () => {
    const unknown = await get(`${emu.instanceUrl("doesnotexist", 8000)}/`, { "X-Access-Token": "x" });
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
    const { id, token } = await running();
    const port = await get(`${emu.instanceUrl(id, 9999)}/`, { "X-Access-Token": token });
    expect(port.statusCode).toBe(502);
    await port.body.dump();
    await ok(emu.endpoint, "PauseSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "PAUSED");
    const paused = await get(`${emu.instanceUrl(id, 8000)}/`, { "X-Access-Token": token });
    expect(paused.statusCode).toBe(404);
    await paused.body.dump();
    await ok(emu.endpoint, "ResumeSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "RUNNING");
    const resumed = await get(`${emu.instanceUrl(id, 8000)}/`, { "X-Access-Token": token });
    expect(resumed.statusCode).toBe(200);
    await resumed.body.dump();
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
    await waitStatus(emu.endpoint, id, "STOPPED");
    const stopped = await get(`${emu.instanceUrl(id, 8000)}/`, { "X-Access-Token": token });
    expect(stopped.statusCode).toBe(404);
    const body = (await stopped.body.json()) as { message: string };
    expect(body.message).toContain("not found or not running");
  });

  it("AuthMode NONE needs no token; PUBLIC needs one only on the envd port 49983", async () => {
    const tool = await activeTool(emu.endpoint);
    const none = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool, AuthMode: "NONE" });
    const pub = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool, AuthMode: "PUBLIC" });
    await waitStatus(emu.endpoint, none.Instance.InstanceId, "RUNNING");
    await waitStatus(emu.endpoint, pub.Instance.InstanceId, "RUNNING");
    const a = await get(`${emu.instanceUrl(none.Instance.InstanceId, 8000)}/`);
    expect(a.statusCode).toBe(200);
    await a.body.dump();
    const b = await get(`${emu.instanceUrl(pub.Instance.InstanceId, 8000)}/`);
    expect(b.statusCode).toBe(200);
    await b.body.dump();
    const c = await get(`${emu.instanceUrl(pub.Instance.InstanceId, 49983)}/health`);
    expect(c.statusCode).toBe(401);
    await c.body.dump();
  });

  it("an instance that dies (fault injection) becomes FAILED/error and the gateway answers 404", async () => {
    const { id, token } = await running();
    await emu.inject.killInstance(id);
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].Status).toBe("FAILED");
    expect(d.InstanceSet[0].StopReason).toBe("error");
    const res = await get(`${emu.instanceUrl(id, 8000)}/`, { "X-Access-Token": token });
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });

  it("the dispatcher leaves other origins alone and also maps http:// production hosts", async () => {
    const { id, token } = await running();
    const res = await get(`http://8000-${id}.ap-chongqing.tencentags.com/x`, { "X-Access-Token": token });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const api = await request(`${emu.endpoint}/`, { method: "GET", dispatcher: emu.dispatcher() });
    expect(api.statusCode).toBe(200);
    const env = (await api.body.json()) as { Response: { Error: { Code: string } } };
    expect(env.Response.Error.Code).toBe("InvalidAction");
  });
});

describe("AGS emulator: gateway timeouts, log hygiene, shutdown", () => {
  it("answers 502 when the sandbox does not answer within the upstream timeout", async () => {
    const hung = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
    const port = (hung.address() as AddressInfo).port;
    const backend: SandboxBackend = {
      kind: "local",
      start: async () => ({
        target: () => ({ host: "127.0.0.1", port }),
        isAlive: async () => true,
        pause: async () => undefined,
        resume: async () => undefined,
        stop: async () => undefined,
        kill: async () => undefined,
      }),
      close: async () => undefined,
    };
    const emu = await testEmulator({
      backend,
      upstreamTimeoutMs: 300,
    });
    try {
      const tool = await activeTool(emu.endpoint);
      const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
      await waitStatus(emu.endpoint, r.Instance.InstanceId, "RUNNING");
      const t = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: r.Instance.InstanceId });
      const res = await request(`${emu.instanceUrl(r.Instance.InstanceId, 8000)}/slow`, {
        dispatcher: emu.dispatcher(),
        headers: { "X-Access-Token": t.Token },
        signal: AbortSignal.timeout(30_000),
      });
      expect(res.statusCode).toBe(502);
      await res.body.dump();
    } finally {
      await emu.close();
      hung.closeAllConnections();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  });

  it("never logs the SecretKey or access tokens", async () => {
    const lines: string[] = [];
    const logger = {
      info: (o: object, m?: string) => lines.push(`${m} ${JSON.stringify(o)}`),
      warn: (o: object, m?: string) => lines.push(`${m} ${JSON.stringify(o)}`),
    };
    const emu = await testEmulator({
      logger,
    });
    try {
      const tool = await activeTool(emu.endpoint);
      const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
      await waitStatus(emu.endpoint, r.Instance.InstanceId, "RUNNING");
      const t = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: r.Instance.InstanceId });
      const res = await request(`${emu.instanceUrl(r.Instance.InstanceId, 8000)}/`, {
        dispatcher: emu.dispatcher(),
        headers: { "X-Access-Token": `${t.Token}x` },
      });
      await res.body.dump();
      await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: r.Instance.InstanceId });
      await waitStatus(emu.endpoint, r.Instance.InstanceId, "STOPPED");
      expect(lines.length).toBeGreaterThan(0);
      const all = lines.join("\n");
      expect(all).not.toContain(SECRET_KEY);
      expect(all).not.toContain(t.Token);
    } finally {
      await emu.close();
    }
  });

  it("close() during a slow start returns promptly and stops the sandbox", async () => {
    const backend = echoBackend();
    const emu = await testEmulator({
      backend,
      latency: { startMs: [60_000, 60_000] },
    });
    const tool = await activeTool(emu.endpoint);
    await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
    const t0 = Date.now();
    await emu.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(backend.servers.size).toBe(0);
  });
});
