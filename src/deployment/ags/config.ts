/**
 * `type: tencentags` deployment configuration: every key of the table in seeds/004 with its default, in
 * SWE-ReX's snake_case, so SWE-agent YAML and `--instances.deployment.<key>=<value>` flags carry over.
 */
import { z } from "zod";
import {
  CPU_PATTERN,
  durationSeconds,
  IMAGE_REGISTRY_TYPES,
  isMountOptionPath,
  MAX_PORT,
  MAX_TIMEOUT_SECONDS,
  MEMORY_PATTERN,
  MIN_PORT,
  MIN_TIMEOUT_SECONDS,
  MOUNT_IMAGE_REGISTRY_TYPES,
  MOUNT_OPTION_ROOTS,
  NETWORK_MODES,
  REGION_PATTERN,
  regionOfDomain,
  SECURITY_GROUP_ID_PATTERN,
  STORAGE_SIZES,
  SUBNET_ID_PATTERN,
} from "./api-rules.js";

/** Numbers from YAML or CLI flags may arrive as strings ("8000") and strings as numbers (cpu: 1). */
const str = (def: string) => z.union([z.string(), z.number()]).transform(String).default(def);
const bool = (def: boolean) =>
  z
    .union([z.boolean(), z.enum(["true", "false", "1", "0"])])
    .transform((v) => v === true || v === "true" || v === "1")
    .default(def);
const seconds = (def: number) => z.coerce.number().nonnegative().default(def);

/** A duration AGS accepts: `<n>s`, `<n>m` or `<n>h`, from 30 s to 24 h (spec/ags.md 6.3). */
export const AgsDuration = z.string().superRefine((v, ctx) => {
  const seconds = durationSeconds(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: "custom", message: 'must look like "300s", "5m" or "1h"' });
  } else if (seconds < MIN_TIMEOUT_SECONDS || seconds > MAX_TIMEOUT_SECONDS) {
    ctx.addIssue({ code: "custom", message: "must be between 30s and 24h" });
  }
});

const pattern = (re: RegExp, what: string, def: string) =>
  z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(re, what)).default(def);
const enumOf = <T extends readonly [string, ...string[]]>(values: T, def: T[number]) =>
  z.enum(values).default(def as never);
/** A list from YAML (`[a, b]`) or from one flag (`a,b`). */
const list = <T extends z.ZodType>(item: T) =>
  z
    .preprocess(
      (v) =>
        typeof v === "string"
          ? v
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "")
          : typeof v === "number"
            ? [v]
            : v,
      z.array(item),
    )
    .default([]);
const absolutePath = z.string().regex(/^\//, "must be an absolute path (start with /)");
const port = z.coerce.number().int().min(MIN_PORT).max(MAX_PORT);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One storage mount of the tool (`StorageMount`): exactly one of `image`, `cos`, `cfs`. */
export const AgsMountConfig = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, "1-63 letters, digits, _ or -"),
    mount_path: absolutePath,
    read_only: bool(false),
    image: z
      .strictObject({
        reference: z.string().min(1),
        registry_type: enumOf(MOUNT_IMAGE_REGISTRY_TYPES, "enterprise"),
        sub_path: absolutePath.default("/"),
      })
      .optional(),
    cos: z
      .strictObject({
        endpoint: z.string().optional(),
        bucket_name: z.string().min(1),
        bucket_path: absolutePath.default("/"),
      })
      .optional(),
    cfs: z
      .strictObject({
        file_system_id: z.string().min(1),
        path: absolutePath.default("/"),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    const sources = (["image", "cos", "cfs"] as const).filter((k) => m[k] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `needs exactly one source: image, cos or cfs (got ${sources.length === 0 ? "none" : sources.join(" and ")})`,
      });
    }
  });
export type AgsMountConfig = z.output<typeof AgsMountConfig>;

/**
 * A per-instance override of a mount (`MountOption`). `sub_path` may contain `{deployment_id}`, replaced
 * by each deployment's id, so every sandbox gets its own directory of a shared bucket.
 */
export const AgsMountOptionConfig = z.strictObject({
  name: z.string().min(1),
  mount_path: absolutePath
    .refine(isMountOptionPath, `must be under ${MOUNT_OPTION_ROOTS.join(", ")}`)
    .optional(),
  sub_path: z.string().min(1).optional(),
  read_only: z
    .union([z.boolean(), z.enum(["true", "false"])])
    .transform((v) => v === true || v === "true")
    .optional(),
});
export type AgsMountOptionConfig = z.output<typeof AgsMountOptionConfig>;

/** The name the seed's single image mount (`mount_image`) gets in StorageMounts. */
export const DEFAULT_MOUNT_NAME = "swerex-runtime";

export const TencentAGSDeploymentConfig = z
  .object({
    type: z.literal("tencentags").default("tencentags"),
    /** Empty: taken from TENCENTCLOUD_SECRET_ID. The env variable wins when both are set. */
    secret_id: str(""),
    secret_key: str(""),
    /** STS temporary credentials: the session token (`X-TC-Token`). Env TENCENTCLOUD_SESSION_TOKEN wins. */
    session_token: str(""),
    /** Role for pulling from TCR and for image and COS mounts. Env TENCENTCLOUD_ROLE_ARN wins when set. */
    role_arn: str(""),
    /** Control-plane host[:port]; `http://host:port` selects plain HTTP (the emulator). */
    http_endpoint: str("ags.tencentcloudapi.com"),
    skip_ssl_verify: bool(false),
    region: pattern(REGION_PATTERN, 'must be a Tencent Cloud region such as "ap-guangzhou"', "ap-chongqing"),
    /** Sandbox data-plane domain; empty means `{region}.tencentags.com`. */
    domain: str(""),
    /** Existing SandboxTool; empty means find or create one per distinct configuration. */
    tool_id: str(""),
    /**
     * With `tool_id`: `swerex` replaces the tool's command with one that starts swerex-remote (the default);
     * `keep` keeps the tool's own command, ports and image set-up (a SWE-bench tool that runs swe-rex
     * itself) and overrides only the image per instance.
     */
    tool_command: enumOf(["swerex", "keep"] as const, "swerex"),
    image: str("python:3.11"),
    image_registry_type: enumOf(IMAGE_REGISTRY_TYPES, "enterprise"),
    /** Instance lifetime. */
    timeout: AgsDuration.default("1h"),
    port: port.default(8000),
    /** More ports the sandbox exposes through the gateway (besides `port`). */
    ports: list(port),
    startup_timeout: seconds(180),
    runtime_timeout: seconds(60),
    cpu: pattern(CPU_PATTERN, 'must be a CPU amount such as "1", "2", "0.5" or "500m"', "1"),
    memory: pattern(MEMORY_PATTERN, 'must be a memory size such as "1Gi", "4Gi" or "512Mi"', "1Gi"),
    /** Disk size: empty (the service's default) or one of 1Gi, 5Gi, 10Gi, 20Gi. */
    storage: z.enum(["", ...STORAGE_SIZES]).default(""),
    /** Environment variables of the sandbox. */
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    network_mode: enumOf(NETWORK_MODES, "PUBLIC"),
    /** VPC subnets and security groups (`network_mode: VPC` only). */
    subnet_ids: list(z.string().regex(SUBNET_ID_PATTERN, 'must look like "subnet-abc123"')),
    security_group_ids: list(z.string().regex(SECURITY_GROUP_ID_PATTERN, 'must look like "sg-abc123"')),
    mount_name: str(""),
    mount_image: str(""),
    mount_image_registry_type: enumOf(MOUNT_IMAGE_REGISTRY_TYPES, "enterprise"),
    mount_path: str("/nix"),
    image_subpath: str("/nix"),
    mount_readonly: bool(false),
    /** More storage mounts of the tool: images, COS buckets, CFS file systems. */
    mounts: z.array(AgsMountConfig).default([]),
    /** Per-instance overrides of the tool's mounts (sub-path, mount path, read-only). */
    mount_options: z.array(AgsMountOptionConfig).default([]),
    /** swerex-ts extension: control-plane requests per second per action (AGS's default limit). */
    api_rate_limit: z.coerce.number().positive().default(20),
    /**
     * swerex-ts extension: where to connect for the data plane instead of resolving
     * `{port}-{id}.{domain}` (e.g. `http://127.0.0.1:9000` for the emulator). The Host header still names the
     * sandbox. Empty: connect to `https://{port}-{id}.{domain}` directly.
     */
    gateway_address: str(""),
  })
  .strict()
  .superRefine(crossFieldRules)
  .transform((c) => ({
    ...c,
    domain: c.domain || `${c.region}.tencentags.com`,
    ports: [...new Set(c.ports)].filter((p) => p !== c.port),
  }));

type ParsedKeys = {
  env: Record<string, string>;
  region: string;
  domain: string;
  tool_id: string;
  tool_command: string;
  network_mode: string;
  subnet_ids: string[];
  security_group_ids: string[];
  mount_name: string;
  mount_image: string;
  mount_readonly: boolean;
  mounts: AgsMountConfig[];
  mount_options: AgsMountOptionConfig[];
};

/** Rules that tie keys together; each issue names the key to change. */
function crossFieldRules(c: ParsedKeys, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const domainRegion = c.domain ? regionOfDomain(c.domain) : undefined;
  if (domainRegion !== undefined && domainRegion !== c.region) {
    issue(
      ["domain"],
      `names region ${domainRegion} but region is ${c.region}; the gateway of one region does not serve another (leave domain empty for ${c.region}.tencentags.com)`,
    );
  }
  for (const name of Object.keys(c.env)) {
    if (!ENV_NAME.test(name))
      issue(["env", name], `${JSON.stringify(name)} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)`);
  }
  if (c.tool_command === "keep" && !c.tool_id) {
    issue(["tool_command"], '"keep" keeps the command of an existing tool: set tool_id too');
  }
  if (c.network_mode === "VPC") {
    if (c.subnet_ids.length === 0) issue(["subnet_ids"], "required with network_mode VPC");
    if (c.security_group_ids.length === 0) issue(["security_group_ids"], "required with network_mode VPC");
  } else {
    for (const key of ["subnet_ids", "security_group_ids"] as const) {
      if (c[key].length > 0)
        issue([key], `only used with network_mode VPC (network_mode is ${c.network_mode})`);
    }
  }
  const readOnly = new Map<string, boolean>(c.mounts.map((m) => [m.name, m.read_only]));
  if (c.mount_image) {
    const name = c.mount_name || DEFAULT_MOUNT_NAME;
    if (readOnly.has(name)) {
      issue(["mounts"], `mount name ${JSON.stringify(name)} is already used by mount_image (mount_name)`);
    }
    readOnly.set(name, c.mount_readonly);
  }
  const seen = new Set<string>();
  c.mounts.forEach((m, i) => {
    if (seen.has(m.name)) issue(["mounts", i, "name"], `duplicate mount name ${JSON.stringify(m.name)}`);
    seen.add(m.name);
  });
  c.mount_options.forEach((o, i) => {
    // With tool_id the tool's own mounts are checked at start, when the tool has been read.
    if (c.tool_id) return;
    const ro = readOnly.get(o.name);
    if (ro === undefined) {
      issue(
        ["mount_options", i, "name"],
        `names no mount; mounts: ${[...readOnly.keys()].join(", ") || "(none)"}`,
      );
    } else if (ro && o.read_only === false) {
      issue(
        ["mount_options", i, "read_only"],
        `can only tighten: mount ${JSON.stringify(o.name)} is read-only`,
      );
    }
  });
}

export type TencentAGSDeploymentConfig = z.infer<typeof TencentAGSDeploymentConfig>;
export type TencentAGSDeploymentConfigInput = z.input<typeof TencentAGSDeploymentConfig>;

export interface AgsCredentials {
  secretId: string;
  secretKey: string;
  /** STS session token; empty for permanent keys. */
  sessionToken: string;
  roleArn: string;
}

/** Each credential key, and the environment variable the official SDK's providers read for it. */
export const CREDENTIAL_ENV = {
  secret_id: "TENCENTCLOUD_SECRET_ID",
  secret_key: "TENCENTCLOUD_SECRET_KEY",
  session_token: "TENCENTCLOUD_SESSION_TOKEN",
  role_arn: "TENCENTCLOUD_ROLE_ARN",
} as const;
type CredentialKey = keyof typeof CREDENTIAL_ENV;

export interface ResolvedAgsCredentials extends AgsCredentials {
  /**
   * Keys set both in the configuration and in the environment with different values. The environment won
   * (seeds/004); the caller says so, naming the key and the variable, never the values.
   */
  overridden: { key: CredentialKey; env: string }[];
}

/**
 * Credentials as seeds/004 specifies: TENCENTCLOUD_SECRET_ID / _SECRET_KEY / _SESSION_TOKEN / _ROLE_ARN take
 * precedence over the configuration and fill in what it leaves empty. TENCENTCLOUD_SESSION_TOKEN is the
 * variable the official SDK's EnvironmentVariableCredential reads (tencentcloud-sdk-nodejs-common
 * `common/credential.js`).
 */
export function resolveAgsCredentials(
  config: Pick<TencentAGSDeploymentConfig, CredentialKey>,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAgsCredentials {
  const overridden: ResolvedAgsCredentials["overridden"] = [];
  const pick = (key: CredentialKey): string => {
    const fromEnv = env[CREDENTIAL_ENV[key]];
    if (fromEnv && config[key] && fromEnv !== config[key]) overridden.push({ key, env: CREDENTIAL_ENV[key] });
    return fromEnv || config[key];
  };
  return {
    secretId: pick("secret_id"),
    secretKey: pick("secret_key"),
    sessionToken: pick("session_token"),
    roleArn: pick("role_arn"),
    overridden,
  };
}

/** One log line per credential the environment overrode: which key lost to which variable, no values. */
export function credentialOverrideMessages(creds: ResolvedAgsCredentials): string[] {
  return creds.overridden.map(
    (o) =>
      `${o.key} is set in the configuration and ${o.env} in the environment with a different value; using ${o.env}`,
  );
}
