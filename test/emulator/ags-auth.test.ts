import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgsEmulator, signTc3, verifyTc3 } from "../../src/emulator/ags/index.js";
import { callApi, SECRET_ID, SECRET_KEY, testEmulator } from "./helpers.js";

describe("AGS emulator: TC3 signatures and envelopes", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator();
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("accepts a correctly signed request: HTTP 200, Response with a UUID RequestId, trace ID echoed", async () => {
    const r = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { traceId: "trace-123" });
    expect(r.status).toBe(200);
    expect(r.Response.Error).toBeUndefined();
    expect(r.Response.SandboxToolSet).toEqual([]);
    expect(r.Response.TotalCount).toBe(0);
    expect(r.Response.RequestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(r.headers["x-tc-traceid"]).toBe("trace-123");
  });

  it("rejects a body changed after signing with AuthFailure.SignatureFailure (HTTP 200 envelope)", async () => {
    const r = await callApi(
      emu.endpoint,
      "DescribeSandboxToolList",
      { Limit: 10 },
      { tamper: (b) => b.replace("10", "11") },
    );
    expect(r.status).toBe(200);
    expect(r.Response.Error.Code).toBe("AuthFailure.SignatureFailure");
    expect(r.Response.Error.Message).toBe(
      "The provided credentials could not be validated. Please check your signature is correct.",
    );
    expect(typeof r.Response.RequestId).toBe("string");
  });

  it("rejects a wrong SecretKey with AuthFailure.SignatureFailure", async () => {
    const r = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { secretKey: "wrong" });
    expect(r.Response.Error.Code).toBe("AuthFailure.SignatureFailure");
  });

  it("rejects an unknown SecretId with AuthFailure.SecretIdNotFound", async () => {
    const r = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { secretId: "AKIDunknown" });
    expect(r.status).toBe(200);
    expect(r.Response.Error.Code).toBe("AuthFailure.SecretIdNotFound");
  });

  it("rejects a timestamp more than 300 s off with AuthFailure.SignatureExpire, accepts 290 s", async () => {
    const now = Math.floor(Date.now() / 1000);
    const stale = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { timestamp: now - 301 });
    expect(stale.Response.Error.Code).toBe("AuthFailure.SignatureExpire");
    const future = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { timestamp: now + 310 });
    expect(future.Response.Error.Code).toBe("AuthFailure.SignatureExpire");
    const within = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { timestamp: now - 290 });
    expect(within.Response.Error).toBeUndefined();
  });

  it("rejects a malformed Authorization with AuthFailure.InvalidAuthorization", async () => {
    const res = await fetch(`${emu.endpoint}/`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer nope",
        "x-tc-action": "DescribeSandboxToolList",
        "x-tc-version": "2025-09-20",
        "x-tc-timestamp": String(Math.floor(Date.now() / 1000)),
      },
      body: "{}",
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { Response: { Error: { Code: string } } };
    expect(json.Response.Error.Code).toBe("AuthFailure.InvalidAuthorization");
  });

  it("answers NoSuchVersion for another API version and InvalidAction for an unknown action", async () => {
    const v = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { version: "2020-01-01" });
    expect(v.Response.Error.Code).toBe("NoSuchVersion");
    const a = await callApi(emu.endpoint, "DeleteSandboxInstance", {});
    expect(a.Response.Error.Code).toBe("InvalidAction");
  });

  it("requires X-TC-Region (MissingParameter) except for AcquireSandboxInstanceToken", async () => {
    const r = await callApi(emu.endpoint, "DescribeSandboxToolList", {}, { region: null });
    expect(r.Response.Error).toEqual({
      Code: "MissingParameter",
      Message: "The request is missing a required parameter `Region`.",
    });
    const t = await callApi(
      emu.endpoint,
      "AcquireSandboxInstanceToken",
      { InstanceId: "nope" },
      { region: null },
    );
    expect(t.Response.Error.Code).toBe("ResourceNotFound.SandboxInstance");
  });

  it("signs the hostname without the port, as the SDK does (Host header keeps the port)", async () => {
    // callApi signs url.hostname while sending Host with the port: accepted.
    const r = await callApi(emu.endpoint, "DescribeSandboxToolList", {});
    expect(r.Response.Error).toBeUndefined();
    // Signing the host WITH the port does not verify.
    const body = "{}";
    const ts = Math.floor(Date.now() / 1000);
    const auth = signTc3({
      secretId: SECRET_ID,
      secretKey: SECRET_KEY,
      service: "ags",
      hostname: emu.endpointHost,
      contentType: "application/json",
      body,
      timestamp: ts,
    });
    expect(() =>
      verifyTc3({
        authorization: auth,
        headers: { "content-type": "application/json", host: emu.endpointHost, "x-tc-timestamp": String(ts) },
        body: Buffer.from(body),
        path: "/",
        query: "",
        lookupSecretKey: () => SECRET_KEY,
        nowSeconds: ts,
        windowSeconds: 300,
      }),
    ).toThrow(expect.objectContaining({ code: "AuthFailure.SignatureFailure" }));
  });

  it("matches the documented TC3 example signature", () => {
    // Tencent Cloud's published sign example (CVM DescribeInstances, 2019-02-25).
    const auth = signTc3({
      secretId: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
      secretKey: "Gu5t9xGARNpq86cd98joQYCN3*******",
      service: "cvm",
      hostname: "cvm.tencentcloudapi.com",
      contentType: "application/json; charset=utf-8",
      body: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
      timestamp: 1551113065,
    });
    expect(auth).toBe(
      "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, " +
        "SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
    );
  });

  it("counts authenticated calls per action", () => {
    expect(emu.callCounts().DescribeSandboxToolList).toBeGreaterThanOrEqual(3);
  });
});
