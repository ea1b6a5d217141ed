/**
 * TencentAGSDeployment's control-plane requests, checked field by field with nock: every key of the seed's
 * config table reaches the API where it belongs. The runtime is a DummyRuntime (the data plane is tested
 * against the emulator).
 */
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/index.js";
import { AgsClient, resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { AgsInstanceStateError, AgsQuotaError, AgsToolFailedError } from "../../src/deployment/ags/errors.js";
import type { AgsRuntimeParams } from "../../src/deployment/ags/runtime-factory.js";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { captureLogger } from "./emulator-helpers.js";
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

/** FULL_CONFIG's runtime mount as the API's StorageMount. */
const REX_MOUNT = {
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
      StorageMounts: [REX_MOUNT],
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

/**
 * The keys beyond the seed's table, matched against tencentcloud-sdk-nodejs
 * `src/services/ags/v20250920/ags_models.ts` (StorageMount, StorageSource.Cos/Image/Cfs, MountOption,
 * NetworkConfiguration.VpcConfig, CustomConfiguration.Env/Ports/Resources.Storage) and the SDK's
 * `X-TC-Token` header for STS credentials (`common/abstract_client.js`).
 */
describe("TencentAGSDeployment request shapes: the rest of the API", () => {
  afterEach(() => resetSharedAgsClients());

  const MORE = {
    ...FULL_CONFIG,
    image: "more:1",
    env: { PIP_INDEX_URL: "https://mirror.example/simple", DEBUG: 1 },
    ports: [8080, 8123, 9000],
    storage: "10Gi" as const,
    network_mode: "VPC" as const,
    subnet_ids: "subnet-1a",
    security_group_ids: ["sg-2b", "sg-3c"],
    mounts: [
      {
        name: "runs",
        mount_path: "/data/runs",
        cos: { endpoint: "cos.ap-guangzhou.myqcloud.com", bucket_name: "bkt-125", bucket_path: "/swe" },
      },
      {
        name: "cache",
        mount_path: "/mnt/cache",
        read_only: true,
        cfs: { file_system_id: "cfs-9", path: "/c" },
      },
      {
        name: "tools",
        mount_path: "/opt/tools",
        image: { reference: "ccr.example/tools:1", sub_path: "/opt" },
      },
    ],
    mount_options: [
      { name: "runs", sub_path: "/trajectories/{deployment_id}" },
      { name: "cache", read_only: true },
    ],
  };

  it("env, ports, storage, VPC, mounts and per-sandbox mount options reach the API", async () => {
    mock = flow();
    const d = deployment(MORE);
    await d.start();
    const [create] = mock.callsOf("CreateSandboxTool");
    expect(create?.body.NetworkConfiguration).toEqual({
      NetworkMode: "VPC",
      VpcConfig: { SubnetIds: ["subnet-1a"], SecurityGroupIds: ["sg-2b", "sg-3c"] },
    });
    const custom = create?.body.CustomConfiguration as Record<string, unknown>;
    expect(custom.Env).toEqual([
      { Name: "PIP_INDEX_URL", Value: "https://mirror.example/simple" },
      { Name: "DEBUG", Value: "1" },
    ]);
    expect(custom.Ports).toEqual([
      { Name: "http", Port: 8123, Protocol: "TCP" },
      { Name: "port-8080", Port: 8080, Protocol: "TCP" },
      { Name: "port-9000", Port: 9000, Protocol: "TCP" },
    ]);
    expect(custom.Resources).toEqual({ CPU: "2", Memory: "4Gi", Storage: "10Gi" });
    expect(create?.body.StorageMounts).toEqual([
      REX_MOUNT,
      {
        Name: "runs",
        MountPath: "/data/runs",
        ReadOnly: false,
        StorageSource: {
          Cos: { Endpoint: "cos.ap-guangzhou.myqcloud.com", BucketName: "bkt-125", BucketPath: "/swe" },
        },
      },
      {
        Name: "cache",
        MountPath: "/mnt/cache",
        ReadOnly: true,
        StorageSource: { Cfs: { FileSystemId: "cfs-9", Path: "/c" } },
      },
      {
        Name: "tools",
        MountPath: "/opt/tools",
        ReadOnly: false,
        StorageSource: {
          Image: { Reference: "ccr.example/tools:1", ImageRegistryType: "enterprise", SubPath: "/opt" },
        },
      },
    ]);
    expect(create?.body.RoleArn).toBe("qcs::cam::uin/1:roleName/r");
    const [start] = mock.callsOf("StartSandboxInstance");
    expect(start?.body.MountOptions).toEqual([
      { Name: "runs", SubPath: `/trajectories/${d.deploymentId}` },
      { Name: "cache", ReadOnly: true },
    ]);
    await d.stop();
  });

  it("two deployments of one configuration share the tool but get their own COS sub-path", async () => {
    mock = flow();
    const client = newClient();
    const mk = () =>
      new TencentAGSDeployment(
        { ...MORE, image: "more:2" },
        { client, env: {}, pollIntervalMs: 10, runtimeFactory: () => new DummyRuntime() },
      );
    const [a, b] = [mk(), mk()];
    await Promise.all([a.start(), b.start()]);
    expect(mock.callsOf("CreateSandboxTool")).toHaveLength(1);
    const subPaths = mock
      .callsOf("StartSandboxInstance")
      .map((c) => (c.body.MountOptions as { SubPath?: string }[])[0]?.SubPath)
      .sort();
    expect(subPaths).toEqual([`/trajectories/${a.deploymentId}`, `/trajectories/${b.deploymentId}`].sort());
    await Promise.all([a.stop(), b.stop()]);
  });

  it("tool_command keep: only the image (and env) ride along; the tool keeps its command and ports", async () => {
    mock = flow({
      DescribeSandboxToolList: () => ({
        SandboxToolSet: [{ ToolId: "sdt-swebench", ToolType: "swebench", Status: "ACTIVE" }],
      }),
    });
    const d = deployment({
      ...FULL_CONFIG,
      mount_image: "",
      tool_id: "sdt-swebench",
      tool_command: "keep",
      image: "swebench/sweb.eval.x86_64.astropy__astropy-12907:latest",
      image_registry_type: "system",
    });
    await d.start();
    const [start] = mock.callsOf("StartSandboxInstance");
    expect(start?.body.CustomConfiguration).toEqual({
      Image: "swebench/sweb.eval.x86_64.astropy__astropy-12907:latest",
      ImageRegistryType: "system",
    });
    await d.stop();
  });

  it("with tool_id, mount_options are checked against the tool's mounts before any start", async () => {
    mock = flow({
      DescribeSandboxToolList: () => ({
        SandboxToolSet: [
          {
            ToolId: "sdt-m",
            Status: "ACTIVE",
            StorageMounts: [{ Name: "ro", MountPath: "/data", ReadOnly: true, StorageSource: { Cos: {} } }],
          },
        ],
      }),
    });
    const bad = await deployment({ ...FULL_CONFIG, tool_id: "sdt-m", mount_options: [{ name: "rw" }] })
      .start()
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as Error).message).toBe('mount_options.0.name: tool sdt-m has no mount "rw"; its mounts: ro');
    const loosen = await deployment({
      ...FULL_CONFIG,
      tool_id: "sdt-m",
      mount_options: [{ name: "ro", read_only: false }],
    })
      .start()
      .catch((e: unknown) => e);
    expect((loosen as Error).message).toBe(
      'mount_options.0.read_only: can only tighten: mount "ro" of tool sdt-m is read-only',
    );
    expect(mock.callsOf("StartSandboxInstance")).toHaveLength(0);
  });

  it("STS credentials: the session token goes out as X-TC-Token on every call; the env wins and says so", async () => {
    mock = flow();
    const { logger, lines } = captureLogger();
    const d = new TencentAGSDeployment(
      { ...FULL_CONFIG, image: "sts:1", session_token: "cfg-session-token", secret_key: "cfg-secret" },
      {
        logger,
        env: { TENCENTCLOUD_SESSION_TOKEN: "env-session-token", TENCENTCLOUD_SECRET_KEY: "env-secret" },
        pollIntervalMs: 10,
        runtimeFactory: () => new DummyRuntime(),
      },
    );
    await d.start();
    await d.stop();
    expect(mock.calls.length).toBeGreaterThan(3);
    for (const c of mock.calls) expect(c.headers["x-tc-token"]).toBe("env-session-token");
    const text = lines.join("");
    expect(text).toContain(
      "session_token is set in the configuration and TENCENTCLOUD_SESSION_TOKEN in the environment with a different value; using TENCENTCLOUD_SESSION_TOKEN",
    );
    expect(text).toContain("secret_key is set in the configuration and TENCENTCLOUD_SECRET_KEY");
    for (const secret of ["cfg-session-token", "env-session-token", "cfg-secret", "env-secret"]) {
      expect(text).not.toContain(secret);
    }
  });

  it("quota and capacity refusals are retried with backoff inside startup_timeout", async () => {
    let starts = 0;
    mock = flow({
      StartSandboxInstance: () => {
        starts++;
        if (starts === 1)
          return apiError(
            "LimitExceeded.SandboxInstance",
            "Sandbox instance quota exceeded. Current: 100, Max: 100.",
          );
        if (starts === 2) return apiError("ResourceInsufficient.SandboxInstance", "Insufficient resources");
        return { Instance: instance("STARTING") };
      },
    });
    const d = deployment({ ...FULL_CONFIG, image: "quota:1", startup_timeout: 60 });
    await d.start();
    expect(starts).toBe(3);
    expect(d.instanceId).toBe("inst1");
    await d.stop();
  });

  it("a quota that stays exhausted fails at startup_timeout with a message naming the quota", async () => {
    mock = flow({
      StartSandboxInstance: () =>
        apiError("LimitExceeded.SandboxInstance", "Sandbox instance quota exceeded. Current: 100, Max: 100."),
    });
    const err = await deployment({ ...FULL_CONFIG, image: "quota:2", startup_timeout: 2 })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgsQuotaError);
    expect((err as Error).message).toMatch(
      /^AGS refused StartSandboxInstance \d+ time\(s\) within startup_timeout 2s for quota LimitExceeded\.SandboxInstance: Sandbox instance quota exceeded\. Current: 100, Max: 100\.; stop instances you no longer need \(swerex ags gc stops orphans\) or ask for a higher quota$/,
    );
    expect(mock.callsOf("StartSandboxInstance").length).toBeGreaterThanOrEqual(2);
  });
});
