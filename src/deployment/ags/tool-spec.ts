/**
 * What a swerex-ts SandboxTool looks like for a given configuration (the "custom tool + swerex mount" model
 * of spec/swerex.md 10.B), and the deterministic name that lets every deployment with the same
 * configuration, in any process, share one tool.
 */
import { createHash } from "node:crypto";
import { LABEL_MANAGED } from "../owner.js";
import { type AgsMountConfig, DEFAULT_MOUNT_NAME, type TencentAGSDeploymentConfig } from "./config.js";
import type {
  CreateSandboxToolRequest,
  CustomConfiguration,
  MetadataVar,
  MountOption,
  NetworkConfiguration,
  ProbeConfiguration,
  SandboxTool,
  StorageMount,
  Tag,
} from "./types.js";

/**
 * Tag (tools) and Metadata (instances) that mark what swerex-ts created, for `swerex ags gc`: the same
 * owner labels Docker containers carry (`swerex.managed`, `swerex.owner.*`), so one notion of "owner gone".
 */
export const MANAGED_KEY = LABEL_MANAGED;
export const MANAGED_VALUE = "true";
export const CONFIG_HASH_KEY = "swerex.ags.config";
export const DEPLOYMENT_KEY = "swerex.deployment";
export const TOOL_NAME_PREFIX = "swerex-ts-";
/** Bump when the tool layout below changes, so old tools are not reused for the new layout. */
const TOOL_LAYOUT_VERSION = "2";
/** Replaced in `mount_options[].sub_path` by the deployment's id: one directory per sandbox. */
export const DEPLOYMENT_ID_PLACEHOLDER = "{deployment_id}";

type ToolConfig = Pick<
  TencentAGSDeploymentConfig,
  | "image"
  | "image_registry_type"
  | "port"
  | "cpu"
  | "memory"
  | "mount_name"
  | "mount_image"
  | "mount_image_registry_type"
  | "mount_path"
  | "image_subpath"
  | "mount_readonly"
  | "env"
  | "ports"
  | "storage"
  | "network_mode"
  | "subnet_ids"
  | "security_group_ids"
  | "mounts"
>;

/** A shell word for `s`: as is when it needs no quoting (so the command reads like spec/ags.md shows it). */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell line that starts swerex-remote, as the Tencent fork writes it (spec/ags.md 4.1):
 * `{mount_path}/swerex/run-swerex --port P --auth-token '' || swerex-remote --port P --auth-token ''`.
 * The self-contained runtime from the mount comes first; an image without the mount (or a pre-made tool
 * whose image has swerex on its PATH) falls back to `swerex-remote`. The server listens on 0.0.0.0 by
 * default, which the gateway needs.
 */
export function swerexStartCommand(config: Pick<ToolConfig, "port" | "mount_path" | "mount_image">): string {
  const args = `--port ${config.port} --auth-token ''`;
  const fallback = `swerex-remote ${args}`;
  if (!config.mount_image) return `exec ${fallback}`;
  const launcher = shellWord(`${config.mount_path.replace(/\/+$/, "")}/swerex/run-swerex`);
  return `${launcher} ${args} || ${fallback}`;
}

export function readinessProbe(port: number): ProbeConfiguration {
  return {
    HttpGet: { Path: "/", Port: port, Scheme: "HTTP" },
    ReadyTimeoutMs: 30000,
    ProbeTimeoutMs: 1000,
    ProbePeriodMs: 2000,
    SuccessThreshold: 1,
    FailureThreshold: 15,
  };
}

/** `env` as the API's `Env` list; undefined when empty, so configurations without it keep their tool name. */
function envList(env: Record<string, string>): CustomConfiguration["Env"] {
  const entries = Object.entries(env);
  return entries.length > 0 ? entries.map(([Name, Value]) => ({ Name, Value })) : undefined;
}

/**
 * Image, command, ports, environment and resources: the tool's configuration, and the per-instance
 * override with `tool_id`.
 */
export function customConfiguration(config: ToolConfig): CustomConfiguration {
  return {
    Image: config.image,
    ImageRegistryType: config.image_registry_type,
    Command: ["/bin/sh", "-c"],
    Args: [swerexStartCommand(config)],
    Env: envList(config.env),
    Ports: [
      { Name: "http", Port: config.port, Protocol: "TCP" },
      ...config.ports.map((p) => ({ Name: `port-${p}`, Port: p, Protocol: "TCP" })),
    ],
    Resources: { CPU: config.cpu, Memory: config.memory, Storage: config.storage || undefined },
  };
}

/**
 * `tool_command: keep`: the tool runs its own command (a SWE-bench tool starts swe-rex itself), so only the
 * image (and the environment, when set) changes per instance, as the Tencent fork's swebench mode does.
 */
export function keptToolOverride(config: ToolConfig): CustomConfiguration {
  return { Image: config.image, ImageRegistryType: config.image_registry_type, Env: envList(config.env) };
}

/**
 * The per-instance override that goes with a user's `tool_id` (it replaces the tool's command). When the
 * configuration names no mount but the tool mounts an image, the command tries the launcher under the
 * tool's MountPath first, so a pre-made "custom tool + swerex mount" needs only `tool_id` and `image`. A mount
 * without the launcher costs nothing: the command falls back to `swerex-remote`.
 */
export function instanceOverride(
  config: ToolConfig,
  tool: Pick<SandboxTool, "StorageMounts"> | undefined,
): CustomConfiguration {
  if (config.mount_image) return customConfiguration(config);
  const mount = tool?.StorageMounts?.find((m) => m.MountPath && m.StorageSource?.Image?.Reference);
  if (!mount?.MountPath) return customConfiguration(config);
  return customConfiguration({
    ...config,
    mount_image: mount.StorageSource?.Image?.Reference ?? "",
    mount_path: mount.MountPath,
  });
}

/** One `mounts` entry as the API's StorageMount. */
function storageMount(m: AgsMountConfig): StorageMount {
  const source: StorageMount["StorageSource"] = m.image
    ? {
        Image: {
          Reference: m.image.reference,
          ImageRegistryType: m.image.registry_type,
          SubPath: m.image.sub_path,
        },
      }
    : m.cos
      ? { Cos: { Endpoint: m.cos.endpoint, BucketName: m.cos.bucket_name, BucketPath: m.cos.bucket_path } }
      : { Cfs: { FileSystemId: m.cfs?.file_system_id, Path: m.cfs?.path } };
  return { Name: m.name, MountPath: m.mount_path, ReadOnly: m.read_only, StorageSource: source };
}

/** The seed's runtime image mount (`mount_image`), then every entry of `mounts`. */
export function storageMounts(config: ToolConfig): StorageMount[] | undefined {
  const out: StorageMount[] = [];
  if (config.mount_image) {
    out.push({
      Name: config.mount_name || DEFAULT_MOUNT_NAME,
      MountPath: config.mount_path,
      ReadOnly: config.mount_readonly,
      StorageSource: {
        Image: {
          Reference: config.mount_image,
          ImageRegistryType: config.mount_image_registry_type,
          SubPath: config.image_subpath,
        },
      },
    });
  }
  out.push(...config.mounts.map(storageMount));
  return out.length > 0 ? out : undefined;
}

/** Whether the tool needs `RoleArn` (image and COS mounts read from the user's registry and buckets). */
export function needsRoleArn(config: ToolConfig): boolean {
  return !!config.mount_image || config.mounts.some((m) => m.image || m.cos);
}

/** `mount_options` as the API's MountOptions, `{deployment_id}` replaced; undefined when there are none. */
export function mountOptions(
  config: Pick<TencentAGSDeploymentConfig, "mount_options">,
  deploymentId: string,
): MountOption[] | undefined {
  if (config.mount_options.length === 0) return undefined;
  return config.mount_options.map((o) => ({
    Name: o.name,
    MountPath: o.mount_path,
    SubPath: o.sub_path?.replaceAll(DEPLOYMENT_ID_PLACEHOLDER, deploymentId),
    ReadOnly: o.read_only,
  }));
}

export function networkConfiguration(config: ToolConfig): NetworkConfiguration {
  if (config.network_mode !== "VPC") return { NetworkMode: config.network_mode };
  return {
    NetworkMode: "VPC",
    VpcConfig: { SubnetIds: config.subnet_ids, SecurityGroupIds: config.security_group_ids },
  };
}

/** The CreateSandboxTool body for a configuration, without ClientToken (the client adds one per creation). */
export function toolRequest(config: ToolConfig, roleArn: string): CreateSandboxToolRequest {
  const spec = {
    ToolType: "custom",
    NetworkConfiguration: networkConfiguration(config),
    CustomConfiguration: { ...customConfiguration(config), Probe: readinessProbe(config.port) },
    RoleArn: roleArn || undefined,
    StorageMounts: storageMounts(config),
  };
  const hash = createHash("sha256")
    .update(JSON.stringify([TOOL_LAYOUT_VERSION, spec]))
    .digest("hex")
    .slice(0, 20);
  const tags: Tag[] = [
    { Key: MANAGED_KEY, Value: MANAGED_VALUE },
    { Key: CONFIG_HASH_KEY, Value: hash },
  ];
  return {
    ToolName: `${TOOL_NAME_PREFIX}${hash}`,
    Description: "swerex-ts sandbox (swerex-remote); created and garbage-collected by swerex-ts",
    Tags: tags,
    ...spec,
  };
}

export function isManagedTool(tags: Tag[] | undefined): boolean {
  return !!tags?.some((t) => t.Key === MANAGED_KEY && t.Value === MANAGED_VALUE);
}

export function metadataValue(meta: MetadataVar[] | undefined, name: string): string | undefined {
  return meta?.find((m) => m.Name === name)?.Value;
}

/** Metadata as a name → value record (the shape the owner-label helpers read). */
export function metadataRecord(meta: MetadataVar[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (meta ?? []).filter((m) => m.Name !== undefined).map((m) => [m.Name, m.Value ?? ""]),
  );
}

export function isManagedInstance(meta: MetadataVar[] | undefined): boolean {
  return metadataValue(meta, MANAGED_KEY) === MANAGED_VALUE;
}
