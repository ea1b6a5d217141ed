/**
 * TencentAGSDeployment's control-plane requests, checked field by field with nock: every key of the seed's
 * config table reaches the API where it belongs. The runtime is a DummyRuntime (the data plane is tested
 * against the emulator).
 */
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgsClient } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { AgsInstanceStateError, AgsToolFailedError } from "../../src/deployment/ags/errors.js";
import type { AgsRuntimeParams } from "../../src/deployment/ags/runtime-factory.js";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { apiError, type Handler, type MockAgs, mockAgs } from "./nock-ags.js";

let mock: MockAgs | undefined;
beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  mock?.done();
  nock.cleanAll();
});

const FULL_CONFIG = {
  secret_id: "AKIDshape",
  secret_key: "shape-secret",
  role_arn: "qcs::cam::uin/1:roleName/r",
  region: "ap-guangzhou",
  domain: "gz.example.com",
  image: "swebench/sweb.eval.x86_64.astropy:latest",
  image_registry_type: "personal" as const,
  timeout: "45m",
  port: 8123,
  cpu: "2",
  memory: "4Gi",
  mount_name: "rex",
  mount_image: "ccr.example/swerex-runtime:1.4.0",
  mount_image_registry_type: "personal" as const,
  mount_path: "/opt/rex",
  image_subpath: "/nix/rex",
  mount_readonly: true,
  startup_timeout: 30,
  runtime_timeout: 7,
};

function newClient() {
  return new AgsClient({
    secretId: "AKIDshape",
    secretKey: "shape-secret",
    region: "ap-guangzhou",
    rateLimit: 1000,
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxRetries: 3 },
  });
}

const instance = (Status: string) => ({ InstanceId: "inst1", ToolId: "sdt-1", ToolName: "n", Status });

function flow(overrides: Record<string, Handler> = {}) {
  const tools: Record<string, unknown>[] = [];
  return mockAgs({
    DescribeSandboxToolList: (body) => {
      if (body.Filters) return { SandboxToolSet: tools, TotalCount: tools.length };
      return { SandboxToolSet: tools.map((t) => ({ ...t, Status: "ACTIVE" })), TotalCount: tools.length };
    },
    CreateSandboxTool: (body) => {
      tools.push({ ToolId: "sdt-1", ToolName: body.ToolName, Status: "CREATING", Tags: body.Tags });
      return { ToolId: "sdt-1" };
    },
    StartSandboxInstance: () => ({ Instance: instance("STARTING") }),
    DescribeSandboxInstanceList: () => ({ InstanceSet: [instance("RUNNING")], TotalCount: 1 }),
    AcquireSandboxInstanceToken: () => ({
      Token: "sit_abc",
      ExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
    StopSandboxInstance: () => ({}),
    ...overrides,
  });
}

function deployment(config: Record<string, unknown>, seen: AgsRuntimeParams[] = []) {
  return new TencentAGSDeployment(config, {
    client: newClient(),
    env: {},
    pollIntervalMs: 10,
    runtimeFactory: (p) => {
      seen.push(p);
      return new DummyRuntime();
    },
  });
}

describe("TencentAGSDeployment request shapes", () => {
  it("without tool_id: every seed key reaches CreateSandboxTool / StartSandboxInstance / the runtime", async () => {
    mock = flow();
    const seen: AgsRuntimeParams[] = [];
    const d = deployment(FULL_CONFIG, seen);
    await d.start();

    const [create] = mock.callsOf("CreateSandboxTool");
    const args = "--port 8123 --auth-token ''";
    expect(create?.body).toEqual({
      ToolName: expect.stringMatching(/^swerex-ts-[0-9a-f]{20}$/),
      ToolType: "custom",
      Description: expect.any(String),
      ClientToken: expect.any(String),
      Tags: [
        { Key: "swerex.managed", Value: "true" },
        { Key: "swerex.ags.config", Value: expect.stringMatching(/^[0-9a-f]{20}$/) },
      ],
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
      RoleArn: "qcs::cam::uin/1:roleName/r",
      CustomConfiguration: {
        Image: "swebench/sweb.eval.x86_64.astropy:latest",
        ImageRegistryType: "personal",
        Command: ["/bin/sh", "-c"],
        Args: [`/opt/rex/swerex/run-swerex ${args} || swerex-remote ${args}`],
        Ports: [{ Name: "http", Port: 8123, Protocol: "TCP" }],
        Resources: { CPU: "2", Memory: "4Gi" },
        Probe: {
          HttpGet: { Path: "/", Port: 8123, Scheme: "HTTP" },
          ReadyTimeoutMs: 30000,
          ProbeTimeoutMs: 1000,
          ProbePeriodMs: 2000,
          SuccessThreshold: 1,
          FailureThreshold: 15,
        },
      },
      StorageMounts: [
        {
          Name: "rex",
          MountPath: "/opt/rex",
          ReadOnly: true,
          StorageSource: {
            Image: {
              Reference: "ccr.example/swerex-runtime:1.4.0",
              ImageRegistryType: "personal",
              SubPath: "/nix/rex",
            },
          },
        },
      ],
    });
    expect(create?.headers["x-tc-region"]).toBe("ap-guangzhou");
    expect(create?.headers.authorization).toContain("Credential=AKIDshape/");

    const [start] = mock.callsOf("StartSandboxInstance");
    const meta = start?.body.Metadata as { Name: string; Value: string }[];
    expect(start?.body).toMatchObject({ ToolId: "sdt-1", Timeout: "45m", ClientToken: expect.any(String) });
    expect(start?.body.CustomConfiguration).toBeUndefined();
    expect(Object.fromEntries(meta.map((m) => [m.Name, m.Value]))).toMatchObject({
      "swerex.managed": "true",
      "swerex.owner.pid": String(process.pid),
      "swerex.deployment": d.deploymentId,
    });
    expect(mock.callsOf("AcquireSandboxInstanceToken")[0]?.body).toEqual({ InstanceId: "inst1" });
    expect(seen[0]).toMatchObject({
      url: "https://8123-inst1.gz.example.com",
      timeoutSec: 7,
      domain: "gz.example.com",
    });

    await d.stop();
    expect(mock.callsOf("StopSandboxInstance").map((c) => c.body)).toEqual([{ InstanceId: "inst1" }]);
    await d.stop();
    expect(mock.callsOf("StopSandboxInstance")).toHaveLength(1);
  });

  it("with tool_id: checks the tool, overrides the image per instance, creates no tool", async () => {
    mock = flow({
      DescribeSandboxToolList: (body) => {
        expect(body).toEqual({ ToolIds: ["sdt-user"] });
        return { SandboxToolSet: [{ ToolId: "sdt-user", Status: "ACTIVE" }], TotalCount: 1 };
      },
    });
    const d = deployment({ ...FULL_CONFIG, tool_id: "sdt-user" });
    await d.start();
    expect(mock.callsOf("CreateSandboxTool")).toHaveLength(0);
    const [start] = mock.callsOf("StartSandboxInstance");
    expect(start?.body).toMatchObject({
      ToolId: "sdt-user",
      CustomConfiguration: {
        Image: "swebench/sweb.eval.x86_64.astropy:latest",
        ImageRegistryType: "personal",
        Ports: [{ Name: "http", Port: 8123, Protocol: "TCP" }],
        Resources: { CPU: "2", Memory: "4Gi" },
      },
    });
    await d.stop();
  });

  it("a FAILED tool_id is an error with its StatusReason, and nothing is started", async () => {
    mock = flow({
      DescribeSandboxToolList: () => ({
        SandboxToolSet: [{ ToolId: "sdt-bad", Status: "FAILED", StatusReason: "ImagePullBackOff" }],
      }),
    });
    const err = await deployment({ ...FULL_CONFIG, tool_id: "sdt-bad" })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgsToolFailedError);
    expect((err as Error).message).toBe("AGS SandboxTool sdt-bad failed: ImagePullBackOff");
    expect(mock.callsOf("StartSandboxInstance")).toHaveLength(0);
  });

  it("a created tool that ends FAILED surfaces its StatusReason", async () => {
    let created = false;
    mock = flow({
      DescribeSandboxToolList: (body) =>
        body.Filters || !created
          ? { SandboxToolSet: [] }
          : { SandboxToolSet: [{ ToolId: "sdt-2", Status: "FAILED", StatusReason: "InternalError" }] },
      CreateSandboxTool: () => {
        created = true;
        return { ToolId: "sdt-2" };
      },
    });
    const err = await deployment({ ...FULL_CONFIG, image: "other:1" })
      .start()
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe("AGS SandboxTool sdt-2 failed: InternalError");
  });

  it("STARTING_FAILED is an error naming the state, and the instance is stopped", async () => {
    mock = flow({ DescribeSandboxInstanceList: () => ({ InstanceSet: [instance("STARTING_FAILED")] }) });
    const d = deployment({ ...FULL_CONFIG, image: "third:1" });
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgsInstanceStateError);
    expect((err as Error).message).toBe("AGS SandboxInstance inst1 is STARTING_FAILED, expected RUNNING");
    expect(mock.callsOf("StopSandboxInstance").map((c) => c.body)).toEqual([{ InstanceId: "inst1" }]);
    expect(d.instanceId).toBeUndefined();
  });

  it("a tool name taken by a concurrent creator is re-read by name instead of failing", async () => {
    let lookups = 0;
    mock = flow({
      DescribeSandboxToolList: (body) => {
        if (body.Filters) {
          lookups++;
          const name = (body.Filters as { Values: string[] }[])[0]?.Values[0];
          return lookups === 1
            ? { SandboxToolSet: [] }
            : { SandboxToolSet: [{ ToolId: "sdt-other", ToolName: name, Status: "ACTIVE" }] };
        }
        return { SandboxToolSet: [{ ToolId: "sdt-other", Status: "ACTIVE" }] };
      },
      CreateSandboxTool: () => apiError("InvalidParameterValue.SandboxTool", "ToolName already exists"),
    });
    const d = deployment({ ...FULL_CONFIG, image: "fourth:1" });
    await d.start();
    expect(d.toolId).toBe("sdt-other");
    expect(mock.callsOf("StartSandboxInstance")[0]?.body.ToolId).toBe("sdt-other");
    await d.stop();
  });

  it("deployments with one configuration in one process share a single tool creation", async () => {
    mock = flow();
    const client = newClient();
    const ds = Array.from(
      { length: 5 },
      () =>
        new TencentAGSDeployment(
          { ...FULL_CONFIG, image: "shared:1" },
          {
            client,
            env: {},
            pollIntervalMs: 10,
            runtimeFactory: () => new DummyRuntime(),
          },
        ),
    );
    await Promise.all(ds.map((d) => d.start()));
    expect(mock.callsOf("CreateSandboxTool")).toHaveLength(1);
    expect(mock.callsOf("StartSandboxInstance")).toHaveLength(5);
    await Promise.all(ds.map((d) => d.stop()));
  });

  it("stop() during start aborts it and stops the instance it had started (found by its Metadata)", async () => {
    let metadata: unknown;
    mock = flow({
      StartSandboxInstance: (body) => {
        metadata = body.Metadata;
        return { Instance: instance("STARTING") };
      },
      DescribeSandboxInstanceList: () => ({ InstanceSet: [{ ...instance("STARTING"), Metadata: metadata }] }),
    });
    const d = deployment({ ...FULL_CONFIG, image: "fifth:1" });
    const starting = d.start();
    const outcome = starting.catch((e: unknown) => e);
    while (mock.callsOf("StartSandboxInstance").length === 0) await new Promise((r) => setTimeout(r, 5));
    await d.stop();
    expect(String(await outcome)).toMatch(/stopped during start/);
    expect(mock.callsOf("StopSandboxInstance").map((c) => c.body)).toEqual([{ InstanceId: "inst1" }]);
    expect(d.instanceId).toBeUndefined();
  });

  it("missing credentials are a clear startup error naming the variables", async () => {
    const d = new TencentAGSDeployment({}, { env: {} });
    await expect(d.start()).rejects.toThrow(/TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY/);
  });
});
