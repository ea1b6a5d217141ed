/**
 * The emulator refuses what the service refuses, each rule over real HTTP with real TC3 signatures. Field
 * names and enums are those of tencentcloud-sdk-nodejs `src/services/ags/v20250920/ags_models.ts` (the
 * version with DescribeQuotaOverview: ResourceConfiguration.Storage, LogSources.Files, CosStorageSource,
 * MountOption, CreatePreCacheImageTask / DescribePreCacheImageTask); error codes from spec/ags.md 1.3/2.4.
 */
import { connect } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { probeUrl } from "../../src/emulator/ags/probe.js";
import { activeTool, callApi, ok, SECRET_ID, SECRET_KEY, testEmulator, waitFor } from "./helpers.js";

const ROLE = "qcs::cam::uin/100000001:roleName/test_role";

describe("AGS emulator strictness", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator({
      sweepIntervalMs: 50,
      defaultRateLimit: Number.POSITIVE_INFINITY,
      latency: { precacheMs: 600 },
      credentials: [
        { secretId: SECRET_ID, secretKey: SECRET_KEY },
        { secretId: "AKIDsts", secretKey: "sts-key", sessionToken: "sts-session-token" },
      ],
    });
  });
  afterAll(async () => {
    await emu?.close();
  });

  const errorOf = async (action: string, body: unknown, o: Parameters<typeof callApi>[3] = {}) =>
    (await callApi(emu.endpoint, action, body, o)).Response.Error as
      | { Code: string; Message: string }
      | undefined;
  const tool = (extra: Record<string, unknown>) => ({
    ToolName: `s-${Math.random().toString(36).slice(2, 10)}`,
    ToolType: "custom",
    NetworkConfiguration: { NetworkMode: "PUBLIC" },
    ...extra,
  });

  it("an unknown region is UnsupportedRegion", async () => {
    expect(await errorOf("DescribeSandboxToolList", {}, { region: "ap-atlantis" })).toEqual({
      Code: "UnsupportedRegion",
      Message: "The API does not support the region `ap-atlantis`.",
    });
    expect(await errorOf("DescribeSandboxToolList", {}, { region: "ap-guangzhou" })).toBeUndefined();
  });

  it("a missing NetworkMode is MissingParameter", async () => {
    expect(await errorOf("CreateSandboxTool", tool({ NetworkConfiguration: {} }))).toEqual({
      Code: "MissingParameter",
      Message: "The request is missing a required parameter `NetworkConfiguration.NetworkMode`.",
    });
  });

  it.each([
    [{ Resources: { CPU: "many" } }, "CustomConfiguration.Resources.CPU"],
    [{ Resources: { Memory: "lots" } }, "CustomConfiguration.Resources.Memory"],
    [{ Resources: { Memory: "1GB" } }, "CustomConfiguration.Resources.Memory"],
    [{ Resources: { Storage: "3Gi" } }, "CustomConfiguration.Resources.Storage"],
    [{ Ports: [{ Port: 70000 }] }, "CustomConfiguration.Ports[0].Port"],
    [{ Ports: [{ Port: 0 }] }, "CustomConfiguration.Ports[0].Port"],
    [{ Probe: { HttpGet: { Port: 65536 } } }, "CustomConfiguration.Probe.HttpGet.Port"],
    [{ Probe: { HttpGet: { Path: "@127.0.0.1:9/x" } } }, "CustomConfiguration.Probe.HttpGet.Path"],
    [{ Probe: { HttpGet: { Path: "//elsewhere/x" } } }, "CustomConfiguration.Probe.HttpGet.Path"],
  ])("CustomConfiguration %j is InvalidParameterValue naming %s", async (custom, field) => {
    const err = await errorOf("CreateSandboxTool", tool({ CustomConfiguration: custom }));
    expect(err?.Code).toBe("InvalidParameterValue");
    expect(err?.Message).toContain(`\`${field}\``);
  });

  it("accepts the API's own examples of CPU, memory and storage", async () => {
    for (const Resources of [
      { CPU: "500m", Memory: "1Gi" },
      { CPU: "4000m", Memory: "8Gi", Storage: "20Gi" },
      { CPU: "2", Memory: "1000Mi", Storage: "" },
    ]) {
      expect(
        await errorOf("CreateSandboxTool", tool({ CustomConfiguration: { Resources } })),
      ).toBeUndefined();
    }
  });

  it("a per-instance override is held to the same rules", async () => {
    const toolId = await activeTool(emu.endpoint);
    const err = await errorOf("StartSandboxInstance", {
      ToolId: toolId,
      CustomConfiguration: { Resources: { Memory: "lots" } },
    });
    expect(err?.Code).toBe("InvalidParameterValue");
  });

  it("log files must be directly under /logs/, at most 10", async () => {
    for (const Files of [["/var/log/app.log"], ["/logs/sub/app.log"], ["/logs/"]]) {
      const err = await errorOf("CreateSandboxTool", tool({ LogConfiguration: { LogSources: { Files } } }));
      expect(err?.Code, JSON.stringify(Files)).toBe("InvalidParameterValue");
    }
    const eleven = Array.from({ length: 11 }, (_, i) => `/logs/f${i}.log`);
    expect(
      (await errorOf("CreateSandboxTool", tool({ LogConfiguration: { LogSources: { Files: eleven } } })))
        ?.Code,
    ).toBe("InvalidParameterValue");
    expect(
      await errorOf(
        "CreateSandboxTool",
        tool({ LogConfiguration: { LogSources: { Files: ["/logs/app.log"] } } }),
      ),
    ).toBeUndefined();
  });

  it("COS mounts need RoleArn and a bucket; VPC needs well-formed subnet and security-group ids", async () => {
    const cos = {
      Name: "d",
      MountPath: "/data",
      StorageSource: { Cos: { BucketName: "b-1", BucketPath: "/x" } },
    };
    expect(await errorOf("CreateSandboxTool", tool({ StorageMounts: [cos] }))).toEqual({
      Code: "MissingParameter.RoleArn",
      Message: "COS storage mounts require `RoleArn`.",
    });
    expect(await errorOf("CreateSandboxTool", tool({ StorageMounts: [cos], RoleArn: ROLE }))).toBeUndefined();
    const noBucket = { ...cos, StorageSource: { Cos: { BucketPath: "/x" } } };
    expect(
      (await errorOf("CreateSandboxTool", tool({ StorageMounts: [noBucket], RoleArn: ROLE })))?.Code,
    ).toBe("InvalidParameterValue.StorageMount");
    const vpc = (VpcConfig: unknown) => tool({ NetworkConfiguration: { NetworkMode: "VPC", VpcConfig } });
    expect((await errorOf("CreateSandboxTool", vpc({ SubnetIds: ["subnet-1"] })))?.Code).toBe(
      "MissingParameter.VPCParameters",
    );
    expect(
      (await errorOf("CreateSandboxTool", vpc({ SubnetIds: ["s1"], SecurityGroupIds: ["sg-1"] })))?.Code,
    ).toBe("InvalidParameterValue.SubnetId");
    expect(
      (await errorOf("CreateSandboxTool", vpc({ SubnetIds: ["subnet-1"], SecurityGroupIds: ["group"] })))
        ?.Code,
    ).toBe("InvalidParameterValue.SecurityGroupId");
    expect(
      await errorOf("CreateSandboxTool", vpc({ SubnetIds: ["subnet-1"], SecurityGroupIds: ["sg-1"] })),
    ).toBeUndefined();
  });

  it("MountOptions may tighten a read-only mount, never loosen it", async () => {
    const toolId = await activeTool(emu.endpoint, {
      RoleArn: ROLE,
      StorageMounts: [
        { Name: "ro", MountPath: "/data", ReadOnly: true, StorageSource: { Cos: { BucketName: "b-1" } } },
      ],
    });
    expect(
      await errorOf("StartSandboxInstance", {
        ToolId: toolId,
        MountOptions: [{ Name: "ro", ReadOnly: false }],
      }),
    ).toEqual({
      Code: "InvalidParameterValue.MountOption",
      Message: 'Storage mount "ro" is read-only in the tool; MountOptions may not make it writable.',
    });
    const started = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      MountOptions: [{ Name: "ro", SubPath: "/runs/a", ReadOnly: true }],
    });
    expect(started.Instance.MountOptions).toEqual([{ Name: "ro", SubPath: "/runs/a", ReadOnly: true }]);
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: started.Instance.InstanceId });
  });

  it("STS credentials: X-TC-Token must come with their SecretId, and match", async () => {
    const sts = { secretId: "AKIDsts", secretKey: "sts-key" };
    expect(await errorOf("DescribeSandboxToolList", {}, sts)).toEqual({
      Code: "AuthFailure.TokenFailure",
      Message: "These credentials are temporary: the request needs the session token in X-TC-Token.",
    });
    expect(
      (await errorOf("DescribeSandboxToolList", {}, { ...sts, headers: { "x-tc-token": "other" } }))?.Code,
    ).toBe("AuthFailure.TokenFailure");
    expect(
      await errorOf(
        "DescribeSandboxToolList",
        {},
        { ...sts, headers: { "x-tc-token": "sts-session-token" } },
      ),
    ).toBeUndefined();
    // Permanent keys need no token.
    expect(await errorOf("DescribeSandboxToolList", {})).toBeUndefined();
  });

  it("fault injection: quota and capacity refusals, then starts succeed again", async () => {
    const toolId = await activeTool(emu.endpoint);
    emu.inject.refuseStarts(1, "quota");
    emu.inject.refuseStarts(1, "capacity");
    expect((await errorOf("StartSandboxInstance", { ToolId: toolId }))?.Code).toBe(
      "LimitExceeded.SandboxInstance",
    );
    expect(await errorOf("StartSandboxInstance", { ToolId: toolId })).toEqual({
      Code: "ResourceInsufficient.SandboxInstance",
      Message: "Insufficient resources to start the sandbox instance in this region. Please try again later.",
    });
    const started = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: started.Instance.InstanceId });
  });

  it("image pre-caching: Pending/Running with progress, then Success; a failed pull says why", async () => {
    const image = "ccr.ccs.tencentyun.com/demo/swebench:1";
    const created = await ok(emu.endpoint, "CreatePreCacheImageTask", {
      Image: image,
      ImageRegistryType: "personal",
    });
    expect(created).toMatchObject({ Image: image, ImageRegistryType: "personal" });
    expect(created.ImageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const seen = new Set<string>();
    await waitFor("pre-cache Success", async () => {
      const d = await ok(emu.endpoint, "DescribePreCacheImageTask", {
        Image: image,
        ImageDigest: created.ImageDigest,
        ImageRegistryType: "personal",
      });
      seen.add(d.Status);
      return d.Status === "Success" ? true : undefined;
    });
    expect(seen.has("Success")).toBe(true);
    expect([...seen].every((s) => ["Pending", "Running", "Success"].includes(s))).toBe(true);
    emu.inject.failNextPrecache("manifest unknown");
    const bad = await ok(emu.endpoint, "CreatePreCacheImageTask", {
      Image: "nope:1",
      ImageRegistryType: "enterprise",
    });
    const final = await waitFor("pre-cache Failed", async () => {
      const d = await ok(emu.endpoint, "DescribePreCacheImageTask", {
        Image: "nope:1",
        ImageDigest: bad.ImageDigest,
        ImageRegistryType: "enterprise",
      });
      return d.Status === "Failed" ? d : undefined;
    });
    expect(final.Message).toBe("manifest unknown");
    expect(
      (await errorOf("CreatePreCacheImageTask", { Image: image, ImageRegistryType: "system" }))?.Code,
    ).toBe("InvalidParameterValue");
    expect((await errorOf("CreatePreCacheImageTask", { ImageRegistryType: "personal" }))?.Code).toBe(
      "MissingParameter",
    );
  });

  it("a sandbox host of another domain is answered like a gateway (404), never by the API", async () => {
    const res = await request(`${emu.endpoint}/is_alive`, {
      headers: { host: "8000-abcdef123.ap-guangzhou.tencentags.com" },
    });
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toEqual({
      code: 404,
      message:
        "no sandbox 8000-abcdef123.ap-guangzhou.tencentags.com here: this gateway serves *.ap-chongqing.tencentags.com",
    });
  });
});

describe("AGS emulator: requests that must not cost or reach anything (issue 13)", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator({ maxBodyBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await emu?.close();
  });

  /** Sends raw bytes and resolves with what the server answered (headers + body) once it closes or answers. */
  function rawExchange(head: string, bodyPart: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(emu.port, "127.0.0.1");
      let got = "";
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer; got ${JSON.stringify(got)}`));
      }, 20_000);
      socket.on("data", (d) => {
        got += d.toString();
        if (/\r\n\r\n[\s\S]*"RequestId"/.test(got)) {
          clearTimeout(timer);
          socket.destroy();
          resolve(got);
        }
      });
      socket.on("error", reject);
      socket.write(head + bodyPart);
    });
  }

  it("POST // answers InvalidAction in the envelope, not InternalError", async () => {
    for (const path of ["//", "//evil.example/x", "/x?y=1"]) {
      const res = await request(`${emu.endpoint}${path}`, { method: "POST", body: "{}" });
      expect(res.statusCode).toBe(200);
      const json = (await res.body.json()) as { Response: { Error: { Code: string } } };
      expect(json.Response.Error.Code, path).toBe("InvalidAction");
    }
  });

  it("an unauthenticated caller is refused before its body is read", async () => {
    // 10 MB announced, 10 bytes sent: the answer must come without the rest of the body.
    const head =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n" +
      "Authorization: TC3-HMAC-SHA256 Credential=AKIDunknown/2026-01-01/ags/tc3_request, SignedHeaders=content-type;host, " +
      `Signature=${"0".repeat(64)}\r\nX-TC-Action: DescribeSandboxToolList\r\nX-TC-Version: 2025-09-20\r\n` +
      `X-TC-Timestamp: ${Math.floor(Date.now() / 1000)}\r\n\r\n`;
    const answer = await rawExchange(head, '{"Limit":1');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"Code":"AuthFailure.SecretIdNotFound"');
  });

  it("a refused caller may finish sending its body: no reset mid-write, and the connection stays usable", async () => {
    // The fuzzer's `write EPIPE`: the answer came before the body, then the server closed the socket while
    // the client was still writing a body under the cap. Now the rest is discarded and the socket kept.
    const body = `{"Limit":1,"Pad":"${"A".repeat(60 * 1024)}"}`;
    const head = (length: number) =>
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
      "Authorization: TC3-HMAC-SHA256 Credential=AKIDunknown/2026-01-01/ags/tc3_request, SignedHeaders=content-type;host, " +
      `Signature=${"0".repeat(64)}\r\nX-TC-Action: DescribeSandboxToolList\r\nX-TC-Version: 2025-09-20\r\n` +
      `X-TC-Timestamp: ${Math.floor(Date.now() / 1000)}\r\n\r\n`;
    const answers = await new Promise<string[]>((resolve, reject) => {
      const socket = connect(emu.port, "127.0.0.1");
      let got = "";
      let sentSecond = false;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no second answer; got ${JSON.stringify(got.slice(0, 2000))}`));
      }, 20_000);
      socket.on("data", (d) => {
        got += d.toString();
        const found = got.match(/HTTP\/1\.1 [\s\S]*?"RequestId":"[^"]+"\}\}/g) ?? [];
        if (found.length === 1 && !sentSecond) {
          // The first answer is in; only now does the rest of the first body go out, then a second request.
          sentSecond = true;
          socket.write(body.slice(10));
          socket.write(head(2) + "{}");
        }
        if (found.length === 2) {
          clearTimeout(timer);
          socket.destroy();
          resolve(found);
        }
      });
      socket.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.write(head(Buffer.byteLength(body)) + body.slice(0, 10));
    });
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 200/);
      expect(a).not.toMatch(/connection: close/i);
      expect(a).toContain('"Code":"AuthFailure.SecretIdNotFound"');
    }
  });

  it("a body over the cap is refused from its Content-Length, unread", async () => {
    const ts = Math.floor(Date.now() / 1000);
    const date = new Date(ts * 1000).toISOString().slice(0, 10);
    const head =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n" +
      `Authorization: TC3-HMAC-SHA256 Credential=${SECRET_ID}/${date}/ags/tc3_request, SignedHeaders=content-type;host, ` +
      `Signature=${"0".repeat(64)}\r\nX-TC-Action: DescribeSandboxToolList\r\nX-TC-Version: 2025-09-20\r\n` +
      `X-TC-Timestamp: ${ts}\r\n\r\n`;
    const answer = await rawExchange(head, "{");
    expect(answer).toContain('"Code":"InvalidParameter"');
    expect(answer).toContain("The request body is larger than 65536 bytes.");
  });

  it("a probe path can only name a path on the sandbox itself", () => {
    const target = { host: "127.0.0.1", port: 4000 };
    expect(probeUrl(target, "/health")).toBe("http://127.0.0.1:4000/health");
    expect(probeUrl(target, "@127.0.0.1:9/x")).toBe("http://127.0.0.1:4000/@127.0.0.1:9/x");
    expect(probeUrl(target, "//evil.example/x")).toBe("http://127.0.0.1:4000/evil.example/x");
  });
});
