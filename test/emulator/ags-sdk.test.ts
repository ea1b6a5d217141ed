import type { Agent } from "node:http";
import { CommonClient } from "tencentcloud-sdk-nodejs-common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { SECRET_ID, SECRET_KEY, testEmulator } from "./helpers.js";

// The SDK routes through HttpsProxyAgent whenever lowercase http_proxy is set (spec/ags.md §2.6).
delete process.env.http_proxy;

describe("AGS emulator with the real Tencent Cloud SDK (CommonClient)", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator();
  });
  afterAll(async () => {
    await emu?.close();
  });

  const client = (endpoint: string, secretKey = SECRET_KEY, agent?: Agent) =>
    new CommonClient(endpoint, "2025-09-20", {
      credential: { secretId: SECRET_ID, secretKey },
      region: "ap-chongqing",
      profile: { httpProfile: { protocol: "http://", reqTimeout: 30, ...(agent ? { agent } : {}) } },
    });

  it("verifies SDK signatures with endpoint 127.0.0.1:P (service `127`) and creates a tool", async () => {
    const sdk = client(emu.endpointHost);
    const r = await sdk.request("CreateSandboxTool", {
      ToolName: "sdk-tool",
      ToolType: "custom",
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
      DefaultTimeout: "1h",
    });
    expect(r.ToolId).toMatch(/^sdt-[a-z0-9]{8}$/);
    expect(typeof r.RequestId).toBe("string");
    const d = await sdk.request("DescribeSandboxToolList", { ToolIds: [r.ToolId] });
    expect(d.TotalCount).toBe(1);
    expect(d.SandboxToolSet[0].DefaultTimeoutSeconds).toBe(3600);
  });

  it("signs with service `ags` through an ags.* endpoint name and the emulator's http agent", async () => {
    const sdk = client(`ags.tencentcloudapi.com:${emu.port}`, SECRET_KEY, emu.httpAgent());
    const d = await sdk.request("DescribeSandboxToolList", {
      Filters: [{ Name: "ToolName", Values: ["sdk-tool"] }],
    });
    expect(d.TotalCount).toBe(1);
    // strictService demands scope service `ags`: the 127.0.0.1 endpoint (service `127`) fails, ags.* passes.
    const strict = await testEmulator({
      strictService: true,
    });
    try {
      const viaIp = await client(strict.endpointHost)
        .request("DescribeSandboxToolList", {})
        .catch((e: { code?: string }) => e);
      expect((viaIp as { code?: string }).code).toBe("AuthFailure.SignatureFailure");
      const viaName = await client(
        `ags.tencentcloudapi.com:${strict.port}`,
        SECRET_KEY,
        strict.httpAgent(),
      ).request("DescribeSandboxToolList", {});
      expect(viaName.TotalCount).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it("surfaces errors as the SDK's exception with code, requestId and the echoed traceId", async () => {
    const bad = client(emu.endpointHost, "wrong-key");
    const err = (await bad.request("DescribeSandboxToolList", {}).catch((e: unknown) => e)) as {
      code?: string;
      requestId?: string;
      traceId?: string;
    };
    expect(err.code).toBe("AuthFailure.SignatureFailure");
    expect(err.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.traceId).toMatch(/^[0-9a-f-]{36}$/);
    const sdk = client(emu.endpointHost);
    const nf = (await sdk
      .request("StopSandboxInstance", { InstanceId: "nope" })
      .catch((e: unknown) => e)) as {
      code?: string;
      message?: string;
    };
    expect(nf.code).toBe("ResourceNotFound.SandboxInstance");
    expect(nf.message).toBe("sandbox instance not found");
  });
});
