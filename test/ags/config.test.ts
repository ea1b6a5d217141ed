import { describe, expect, it } from "vitest";
import {
  credentialOverrideMessages,
  resolveAgsCredentials,
  TencentAGSDeploymentConfig,
} from "../../src/deployment/ags/config.js";
import { TokenBucket } from "../../src/deployment/ags/rate-limit.js";
import { backoffDelayMs, DEFAULT_RETRY_POLICY } from "../../src/deployment/ags/retry.js";

describe("TencentAGSDeploymentConfig", () => {
  it("has every key of the seed table with its default", () => {
    expect(TencentAGSDeploymentConfig.parse({})).toEqual({
      type: "tencentags",
      secret_id: "",
      secret_key: "",
      session_token: "",
      role_arn: "",
      http_endpoint: "ags.tencentcloudapi.com",
      skip_ssl_verify: false,
      region: "ap-chongqing",
      domain: "ap-chongqing.tencentags.com",
      tool_id: "",
      tool_command: "swerex",
      image: "python:3.11",
      image_registry_type: "enterprise",
      timeout: "1h",
      port: 8000,
      ports: [],
      startup_timeout: 180,
      runtime_timeout: 60,
      cpu: "1",
      memory: "1Gi",
      storage: "",
      env: {},
      network_mode: "PUBLIC",
      subnet_ids: [],
      security_group_ids: [],
      mount_name: "",
      mount_image: "",
      mount_image_registry_type: "enterprise",
      mount_path: "/nix",
      image_subpath: "/nix",
      mount_readonly: false,
      mounts: [],
      mount_options: [],
      api_rate_limit: 20,
      gateway_address: "",
    });
  });

  it("derives the domain from the region unless given, and takes flag-style strings", () => {
    expect(TencentAGSDeploymentConfig.parse({ region: "ap-guangzhou" }).domain).toBe(
      "ap-guangzhou.tencentags.com",
    );
    expect(TencentAGSDeploymentConfig.parse({ region: "ap-guangzhou", domain: "x.example" }).domain).toBe(
      "x.example",
    );
    const c = TencentAGSDeploymentConfig.parse({
      port: "9000",
      cpu: 2,
      mount_readonly: "true",
      startup_timeout: "30",
    });
    expect([c.port, c.cpu, c.mount_readonly, c.startup_timeout]).toEqual([9000, "2", true, 30]);
  });

  it("rejects unknown keys and bad durations", () => {
    expect(() => TencentAGSDeploymentConfig.parse({ tool: "x" })).toThrow(/tool/);
    expect(() => TencentAGSDeploymentConfig.parse({ timeout: "1 hour" })).toThrow(/5m/);
  });
});

describe("credential precedence (seeds/004)", () => {
  const config = {
    secret_id: "cfg-id",
    secret_key: "cfg-key",
    session_token: "cfg-tok",
    role_arn: "cfg-role",
  };

  it("environment variables win over the config file, and each overridden key is reported without values", () => {
    const creds = resolveAgsCredentials(config, {
      TENCENTCLOUD_SECRET_ID: "env-id",
      TENCENTCLOUD_SECRET_KEY: "env-key",
      TENCENTCLOUD_SESSION_TOKEN: "env-tok",
      TENCENTCLOUD_ROLE_ARN: "cfg-role", // the same value: not a conflict
    });
    expect(creds).toMatchObject({
      secretId: "env-id",
      secretKey: "env-key",
      sessionToken: "env-tok",
      roleArn: "cfg-role",
    });
    const lines = credentialOverrideMessages(creds);
    expect(lines).toEqual([
      "secret_id is set in the configuration and TENCENTCLOUD_SECRET_ID in the environment with a different value; using TENCENTCLOUD_SECRET_ID",
      "secret_key is set in the configuration and TENCENTCLOUD_SECRET_KEY in the environment with a different value; using TENCENTCLOUD_SECRET_KEY",
      "session_token is set in the configuration and TENCENTCLOUD_SESSION_TOKEN in the environment with a different value; using TENCENTCLOUD_SESSION_TOKEN",
    ]);
    for (const secret of ["env-key", "cfg-key", "env-tok", "cfg-tok"])
      expect(lines.join("\n")).not.toContain(secret);
  });

  it("the config is used where the environment is unset or empty", () => {
    expect(resolveAgsCredentials(config, { TENCENTCLOUD_SECRET_ID: "" })).toEqual({
      secretId: "cfg-id",
      secretKey: "cfg-key",
      sessionToken: "cfg-tok",
      roleArn: "cfg-role",
      overridden: [],
    });
  });

  it("the environment fills in what the config leaves empty", () => {
    expect(
      resolveAgsCredentials(
        { secret_id: "", secret_key: "", session_token: "", role_arn: "" },
        { TENCENTCLOUD_SECRET_ID: "env-id", TENCENTCLOUD_SECRET_KEY: "env-key" },
      ),
    ).toEqual({ secretId: "env-id", secretKey: "env-key", sessionToken: "", roleArn: "", overridden: [] });
  });
});

describe("pacing and backoff", () => {
  it("a token bucket spaces requests evenly by default", () => {
    const now = 1_000_000;
    const b = new TokenBucket(20, undefined, () => now);
    expect(Array.from({ length: 4 }, () => b.reserve())).toEqual([0, 50, 100, 150]);
  });

  it("a token bucket with a burst allows it, then one request per interval", () => {
    let now = 1_000_000;
    const b = new TokenBucket(20, 20, () => now);
    const waits = Array.from({ length: 22 }, () => b.reserve());
    expect(waits.slice(0, 20)).toEqual(Array(20).fill(0));
    expect(waits[20]).toBeCloseTo(50, 5);
    expect(waits[21]).toBeCloseTo(100, 5);
    now += 2000; // idle: the burst is available again
    expect(b.reserve()).toBe(0);
  });

  it("backoff doubles per attempt with jitter in [step/2, step], capped", () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4].map((a) => backoffDelayMs(a, p, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([0, 1, 2, 3, 4].map((a) => backoffDelayMs(a, p, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});
