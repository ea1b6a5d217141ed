/**
 * Every AGS value rule is checked in the config, before any API call, with a message naming the key as the
 * user set it; `swerex run` exits 2 with it. The enums and ranges are those of tencentcloud-sdk-nodejs
 * `src/services/ags/v20250920/ags_models.ts` (ResourceConfiguration.Storage 1Gi|5Gi|10Gi|20Gi,
 * StartSandboxInstanceRequest.Timeout 30s..24h, CustomConfiguration.ImageRegistryType,
 * NetworkConfiguration.NetworkMode PUBLIC|VPC|SANDBOX, MountOption, StorageMount/CosStorageSource).
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/index.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { getDeployment, parseDeploymentConfig } from "../../src/deployment/index.js";
import { spawnSwerex } from "../helpers/cli.js";

const where = (p: readonly string[]) => `--instances.deployment.${p.join(".")}`;

/** The error lines a config produces, as `swerex run` prints them (without the command prefix). */
function problems(raw: Record<string, unknown>): string[] {
  try {
    parseDeploymentConfig({ type: "tencentags", ...raw }, { where });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  return [];
}

describe("tencentags config: values the API refuses fail before any call", () => {
  it.each([
    [
      { memory: "lots" },
      '--instances.deployment.memory: must be a memory size such as "1Gi", "4Gi" or "512Mi", got "lots"',
    ],
    [
      { cpu: "many" },
      '--instances.deployment.cpu: must be a CPU amount such as "1", "2", "0.5" or "500m", got "many"',
    ],
    [
      { image_registry_type: "bogus" },
      '--instances.deployment.image_registry_type: expected one of enterprise|personal|custom|system, got "bogus"',
    ],
    [{ timeout: "10s" }, '--instances.deployment.timeout: must be between 30s and 24h, got "10s"'],
    [{ timeout: "25h" }, '--instances.deployment.timeout: must be between 30s and 24h, got "25h"'],
    [{ port: 70000 }, "--instances.deployment.port: Too big: expected number to be <=65535, got 70000"],
    [{ ports: [8080, 0] }, "--instances.deployment.ports.1: Too small: expected number to be >=1, got 0"],
    [{ storage: "3Gi" }, '--instances.deployment.storage: expected one of |1Gi|5Gi|10Gi|20Gi, got "3Gi"'],
    [
      { network_mode: "LAN" },
      '--instances.deployment.network_mode: expected one of PUBLIC|VPC|SANDBOX, got "LAN"',
    ],
    [
      { region: "Guangzhou" },
      '--instances.deployment.region: must be a Tencent Cloud region such as "ap-guangzhou", got "Guangzhou"',
    ],
    [
      { env: { "1BAD": "x" } },
      '--instances.deployment.env.1BAD: "1BAD" is not a variable name ([A-Za-z_][A-Za-z0-9_]*), got "x"',
    ],
    [
      { tool_command: "keep" },
      '--instances.deployment.tool_command: "keep" keeps the command of an existing tool: set tool_id too, got "keep"',
    ],
    [
      { tool_command: "other", tool_id: "sdt-1" },
      '--instances.deployment.tool_command: expected one of swerex|keep, got "other"',
    ],
    [
      { mount_image_registry_type: "system" },
      '--instances.deployment.mount_image_registry_type: expected one of enterprise|personal, got "system"',
    ],
  ])("%j", (raw, message) => {
    expect(problems(raw)).toContain(message);
  });

  it("a domain of another region is refused (the gateway of one region does not serve another)", () => {
    expect(problems({ region: "ap-guangzhou", domain: "ap-chongqing.tencentags.com" })).toEqual([
      '--instances.deployment.domain: names region ap-chongqing but region is ap-guangzhou; the gateway of one region does not serve another (leave domain empty for ap-guangzhou.tencentags.com), got "ap-chongqing.tencentags.com"',
    ]);
    expect(problems({ region: "ap-guangzhou", domain: "ap-guangzhou.internal.tencentags.com" })).toEqual([]);
    expect(problems({ region: "ap-guangzhou", domain: "sandbox.example.com" })).toEqual([]);
  });

  it("VPC needs subnet and security-group ids in the API's formats; other modes take none", () => {
    expect(problems({ network_mode: "VPC" })).toEqual([
      "--instances.deployment.subnet_ids: required with network_mode VPC",
      "--instances.deployment.security_group_ids: required with network_mode VPC",
    ]);
    expect(
      problems({ network_mode: "VPC", subnet_ids: "subnet-1a,bad", security_group_ids: ["sg-9z"] }),
    ).toEqual(['--instances.deployment.subnet_ids.1: must look like "subnet-abc123"']);
    expect(problems({ network_mode: "SANDBOX", subnet_ids: ["subnet-1a"] })).toEqual([
      '--instances.deployment.subnet_ids: only used with network_mode VPC (network_mode is SANDBOX), got ["subnet-1a"]',
    ]);
    const c = parseDeploymentConfig({
      type: "tencentags",
      network_mode: "VPC",
      subnet_ids: "subnet-1a, subnet-2b",
      security_group_ids: "sg-9z",
    });
    expect(c).toMatchObject({ subnet_ids: ["subnet-1a", "subnet-2b"], security_group_ids: ["sg-9z"] });
  });

  it("mounts: one source each, absolute paths, unique names", () => {
    expect(problems({ mounts: [{ name: "d", mount_path: "data", cos: { bucket_name: "b" } }] })).toEqual([
      '--instances.deployment.mounts.0.mount_path: must be an absolute path (start with /), got "data"',
    ]);
    expect(problems({ mounts: [{ name: "d", mount_path: "/data" }] })[0]).toMatch(
      /^--instances\.deployment\.mounts\.0: needs exactly one source: image, cos or cfs \(got none\)/,
    );
    expect(
      problems({
        mounts: [
          { name: "d", mount_path: "/a", cfs: { file_system_id: "cfs-1" } },
          { name: "d", mount_path: "/b", cfs: { file_system_id: "cfs-2" } },
        ],
      }),
    ).toEqual(['--instances.deployment.mounts.1.name: duplicate mount name "d", got "d"']);
    expect(
      problems({ mounts: [{ name: "d", mount_path: "/d", cos: { bucket_name: "b", bucket_path: "x" } }] }),
    ).toEqual([
      '--instances.deployment.mounts.0.cos.bucket_path: must be an absolute path (start with /), got "x"',
    ]);
  });

  it("mount_options: name a mount, a mount path under the allowed roots, read-only only tightens", () => {
    const mounts = [{ name: "work", mount_path: "/workspace", read_only: true, cos: { bucket_name: "b" } }];
    expect(problems({ mounts, mount_options: [{ name: "nope" }] })).toEqual([
      '--instances.deployment.mount_options.0.name: names no mount; mounts: work, got "nope"',
    ]);
    expect(problems({ mounts, mount_options: [{ name: "work", read_only: false }] })).toEqual([
      '--instances.deployment.mount_options.0.read_only: can only tighten: mount "work" is read-only, got false',
    ]);
    expect(problems({ mounts, mount_options: [{ name: "work", mount_path: "/etc" }] })).toEqual([
      '--instances.deployment.mount_options.0.mount_path: must be under /home, /workspace, /data, /mnt, got "/etc"',
    ]);
    // The seed's image mount has a name too, and can be overridden per instance.
    expect(
      problems({ mount_image: "rt:1", mount_options: [{ name: "swerex-runtime", read_only: true }] }),
    ).toEqual([]);
    // With tool_id the tool's mounts are unknown until it is read: checked at start instead.
    expect(problems({ tool_id: "sdt-1", mount_options: [{ name: "anything" }] })).toEqual([]);
  });

  it("image and COS mounts without a role are refused before any call, naming role_arn", () => {
    const cos = { mounts: [{ name: "d", mount_path: "/data", cos: { bucket_name: "b" } }] };
    for (const raw of [cos, { mount_image: "rt:1" }]) {
      const err = (() => {
        try {
          new TencentAGSDeployment(raw, { env: {} });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        "role_arn (or TENCENTCLOUD_ROLE_ARN): required for image and COS mounts (mount_image, mounts): AGS reads them with this CAM role",
      );
    }
    expect(
      () => new TencentAGSDeployment(cos, { env: { TENCENTCLOUD_ROLE_ARN: "qcs::cam::uin/1:roleName/r" } }),
    ).not.toThrow();
    expect(() =>
      getDeployment({ type: "tencentags", ...cos, role_arn: "qcs::cam::uin/1:roleName/r" }),
    ).not.toThrow();
  });

  it("swerex run exits 2 naming each bad flag, and contacts nothing", async () => {
    const { done } = spawnSwerex(
      [
        "run",
        "--instances.deployment.type=tencentags",
        // Nothing listens here: a request would fail differently (exit 125), not with exit 2.
        "--instances.deployment.http_endpoint=http://127.0.0.1:9",
        "--instances.deployment.memory=lots",
        "--instances.deployment.cpu=many",
        "--instances.deployment.image_registry_type=bogus",
        "--instances.deployment.timeout=10s",
        "--",
        "true",
      ],
      { env: { ...process.env, TENCENTCLOUD_SECRET_ID: "AKIDx", TENCENTCLOUD_SECRET_KEY: "k" } },
    );
    const r = await done;
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([
      'swerex run: --instances.deployment.image_registry_type: expected one of enterprise|personal|custom|system, got "bogus"',
      'swerex run: --instances.deployment.timeout: must be between 30s and 24h, got "10s"',
      'swerex run: --instances.deployment.cpu: must be a CPU amount such as "1", "2", "0.5" or "500m", got "many"',
      'swerex run: --instances.deployment.memory: must be a memory size such as "1Gi", "4Gi" or "512Mi", got "lots"',
    ]);
  });

  it("swerex run exits 2 for a mount without a role", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TENCENTCLOUD_SECRET_ID: "AKIDx",
      TENCENTCLOUD_SECRET_KEY: "k",
    };
    delete env.TENCENTCLOUD_ROLE_ARN;
    const { done } = spawnSwerex(
      [
        "run",
        "--instances.deployment.type=tencentags",
        "--instances.deployment.http_endpoint=http://127.0.0.1:9",
        "--instances.deployment.mount_image=rt:1",
        "--",
        "true",
      ],
      { env },
    );
    const r = await done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "swerex run: role_arn (or TENCENTCLOUD_ROLE_ARN): required for image and COS mounts",
    );
  });
});
