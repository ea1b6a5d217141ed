import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgsClient, parseEndpoint } from "../../src/deployment/ags/client.js";
import { AgsRequestError } from "../../src/deployment/ags/errors.js";
import { apiError, type MockAgs, mockAgs } from "./nock-ags.js";

const SECRET_KEY = "SK-never-in-a-message-0123456789";

function client(extra: Partial<ConstructorParameters<typeof AgsClient>[0]> = {}) {
  return new AgsClient({
    secretId: "AKIDtest",
    secretKey: SECRET_KEY,
    region: "ap-guangzhou",
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxRetries: 4 },
    rateLimit: 1000,
    ...extra,
  });
}

let mock: MockAgs | undefined;
beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  mock?.done();
  mock = undefined;
  nock.cleanAll();
});

describe("AgsClient request shape", () => {
  it("sends a TC3-signed POST / with the action, version and region headers and the body as JSON", async () => {
    mock = mockAgs({ DescribeSandboxToolList: () => ({ SandboxToolSet: [], TotalCount: 0 }) });
    const res = await client().call("DescribeSandboxToolList", { ToolIds: ["sdt-abc12345"], Limit: 10 });
    expect(res.TotalCount).toBe(0);
    expect(res.RequestId).toBe("req-1");
    const [call] = mock.calls;
    expect(call?.headers["x-tc-action"]).toBe("DescribeSandboxToolList");
    expect(call?.headers["x-tc-version"]).toBe("2025-09-20");
    expect(call?.headers["x-tc-region"]).toBe("ap-guangzhou");
    expect(call?.headers["content-type"]).toBe("application/json");
    expect(call?.headers.authorization).toMatch(
      /^TC3-HMAC-SHA256 Credential=AKIDtest\/\d{4}-\d{2}-\d{2}\/ags\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/,
    );
    expect(call?.body).toEqual({ ToolIds: ["sdt-abc12345"], Limit: 10 });
  });

  it("speaks plain HTTP to an http:// endpoint (the emulator)", async () => {
    expect(parseEndpoint("http://127.0.0.1:4566")).toEqual({ protocol: "http://", host: "127.0.0.1:4566" });
    expect(parseEndpoint("ags.tencentcloudapi.com")).toEqual({
      protocol: "https://",
      host: "ags.tencentcloudapi.com",
    });
    expect(() => parseEndpoint("http://h/x")).toThrow(/host\[:port\]/);
    mock = mockAgs({ StopSandboxInstance: () => ({}) }, "http://ags.example.test:4566");
    await client({ endpoint: "http://ags.example.test:4566" }).call("StopSandboxInstance", {
      InstanceId: "i1",
    });
    expect(mock.calls).toHaveLength(1);
  });

  it("adds one ClientToken to a start and reuses it on every retry", async () => {
    let n = 0;
    mock = mockAgs({
      StartSandboxInstance: () =>
        ++n < 3
          ? apiError("InternalError", "boom")
          : { Instance: { InstanceId: "i1", ToolId: "t", ToolName: "n", Status: "STARTING" } },
    });
    const res = await client().call("StartSandboxInstance", { ToolId: "sdt-1", Timeout: "5m" });
    expect(res.Instance?.InstanceId).toBe("i1");
    const tokens = mock.callsOf("StartSandboxInstance").map((c) => c.body.ClientToken);
    expect(tokens).toHaveLength(3);
    expect(typeof tokens[0]).toBe("string");
    expect(new Set(tokens).size).toBe(1);
  });

  it("keeps a caller's ClientToken", async () => {
    mock = mockAgs({ CreateSandboxTool: () => ({ ToolId: "sdt-1" }) });
    await client().call("CreateSandboxTool", {
      ToolName: "x",
      ToolType: "custom",
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
      ClientToken: "mine",
    });
    expect(mock.calls[0]?.body.ClientToken).toBe("mine");
  });
});

describe("AgsClient pacing hook", () => {
  it("asks the pacer for every attempt, naming the bucket by a SecretId fingerprint, region and action", async () => {
    let attempts = 0;
    mock = mockAgs({
      StopSandboxInstance: () => (++attempts === 1 ? apiError("RequestLimitExceeded", "slow down") : {}),
    });
    const asked: { bucket: string; action: string; ratePerSecond: number }[] = [];
    await client({
      rateLimit: 7,
      pacer: async ({ bucket, action, ratePerSecond }) => {
        asked.push({ bucket, action, ratePerSecond });
      },
    }).call("StopSandboxInstance", { InstanceId: "i1" });
    expect(asked).toHaveLength(2);
    expect(asked[0]).toEqual({
      bucket: expect.stringMatching(/^ags\/[0-9a-f]{16}\/ap-guangzhou\/StopSandboxInstance$/),
      action: "StopSandboxInstance",
      ratePerSecond: 7,
    });
    expect(asked[0]?.bucket).not.toContain("AKIDtest");
  });
});

describe("AgsClient retries", () => {
  it.each([
    "RequestLimitExceeded",
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
    "InternalError",
    "InternalError.Unknown",
    "FailedOperation.RequestInProgress",
  ])("retries %s and then succeeds", async (code) => {
    let n = 0;
    mock = mockAgs({ StopSandboxInstance: () => (++n <= 2 ? apiError(code) : {}) });
    const c = client();
    await c.call("StopSandboxInstance", { InstanceId: "i1" });
    expect(mock.calls).toHaveLength(3);
    expect(c.callCounts.StopSandboxInstance).toBe(3);
  });

  it.each([
    "ResourceNotFound.SandboxInstance",
    "InvalidParameterValue.Timeout",
    "AuthFailure.SignatureFailure",
    "LimitExceeded.SandboxInstance",
    "FailedOperation.DuplicateRequest",
  ])("does not retry %s", async (code) => {
    mock = mockAgs({ StopSandboxInstance: () => apiError(code, "nope") });
    const err = await client()
      .call("StopSandboxInstance", { InstanceId: "i1" })
      .catch((e: unknown) => e);
    expect(mock.calls).toHaveLength(1);
    expect(err).toBeInstanceOf(AgsRequestError);
    expect(err).toMatchObject({
      code,
      action: "StopSandboxInstance",
      requestId: "req-1",
      kind: "api",
      attempts: 1,
    });
  });

  it("retries transport errors (connection refused), then gives up with the attempt count", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    nock.enableNetConnect("127.0.0.1");
    try {
      const err = (await client({ endpoint: `http://127.0.0.1:${port}` })
        .call("StopSandboxInstance", { InstanceId: "i1" })
        .catch((e: unknown) => e)) as AgsRequestError;
      expect(err).toBeInstanceOf(AgsRequestError);
      expect(err.kind).toBe("transport");
      expect(err.code).toBe("TransportError");
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(err.attempts).toBe(5);
    } finally {
      nock.disableNetConnect();
    }
  });

  it("retries HTTP 5xx, then gives up with the attempt count", async () => {
    nock("https://ags.tencentcloudapi.com").post("/").reply(503, "unavailable");
    mock = mockAgs({ StopSandboxInstance: () => ({}) });
    await client().call("StopSandboxInstance", { InstanceId: "i1" });
    expect(mock.calls).toHaveLength(1);

    mock.done();
    nock("https://ags.tencentcloudapi.com").post("/").times(10).reply(502, "bad gateway");
    const err = (await client()
      .call("StopSandboxInstance", { InstanceId: "i1" })
      .catch((e: unknown) => e)) as AgsRequestError;
    expect(err).toBeInstanceOf(AgsRequestError);
    expect(err.kind).toBe("http");
    expect(err.code).toBe("HttpError.502");
    expect(err.httpStatus).toBe(502);
    expect(err.attempts).toBe(5);
  });

  it("backs off exponentially between retries", async () => {
    const times: number[] = [];
    mock = mockAgs({
      StopSandboxInstance: () => {
        times.push(Date.now());
        return times.length <= 3 ? apiError("InternalError") : {};
      },
    });
    await client({ retry: { baseDelayMs: 40, maxDelayMs: 10_000, maxRetries: 5 } }).call(
      "StopSandboxInstance",
      {
        InstanceId: "i1",
      },
    );
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    // Equal jitter: attempt k waits between 40*2^k/2 and 40*2^k ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
  });

  it("stops retrying when the caller aborts", async () => {
    mock = mockAgs({ StopSandboxInstance: () => apiError("InternalError") });
    const ac = new AbortController();
    const p = client({ retry: { baseDelayMs: 200, maxDelayMs: 200, maxRetries: 50 } }).call(
      "StopSandboxInstance",
      { InstanceId: "i1" },
      { signal: ac.signal },
    );
    setTimeout(() => ac.abort(new Error("enough")), 300);
    await expect(p).rejects.toThrow("enough");
    expect(mock.calls.length).toBeLessThan(5);
  });
});

describe("AgsClient errors", () => {
  it("maps the envelope to an AgsRequestError naming action, code and RequestId, never the SecretKey", async () => {
    mock = mockAgs({
      AcquireSandboxInstanceToken: () =>
        apiError("ResourceNotFound.SandboxInstance", "sandbox instance not found"),
    });
    const err = (await client()
      .call("AcquireSandboxInstanceToken", { InstanceId: "i9" })
      .catch((e: unknown) => e)) as AgsRequestError;
    expect(err.message).toBe(
      "AGS AcquireSandboxInstanceToken failed: ResourceNotFound.SandboxInstance: sandbox instance not found (RequestId req-1)",
    );
    expect(err.is("ResourceNotFound")).toBe(true);
    expect(err.is("Resource")).toBe(false);
    expect(JSON.stringify({ ...err, m: err.message, s: err.stack })).not.toContain(SECRET_KEY);
  });
});
