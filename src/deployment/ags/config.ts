/**
 * `type: tencentags` deployment configuration: every key of the table in seeds/004 with its default, in
 * SWE-ReX's snake_case, so SWE-agent YAML and `--instances.deployment.<key>=<value>` flags carry over.
 */
import { z } from "zod";

/** Numbers from YAML or CLI flags may arrive as strings ("8000") and strings as numbers (cpu: 1). */
const str = (def: string) => z.union([z.string(), z.number()]).transform(String).default(def);
const bool = (def: boolean) =>
  z
    .union([z.boolean(), z.enum(["true", "false", "1", "0"])])
    .transform((v) => v === true || v === "true" || v === "1")
    .default(def);
const seconds = (def: number) => z.coerce.number().nonnegative().default(def);

/** A duration AGS accepts: `<n>s`, `<n>m` or `<n>h` (spec/ags.md 6.3). */
export const AgsDuration = z.string().regex(/^\d+(s|m|h)$/, 'must look like "300s", "5m" or "1h"');

export const TencentAGSDeploymentConfig = z
  .object({
    type: z.literal("tencentags").default("tencentags"),
    /** Empty: taken from TENCENTCLOUD_SECRET_ID. The env variable wins when both are set. */
    secret_id: str(""),
    secret_key: str(""),
    /** Role for pulling from TCR and for image mounts. Env TENCENTCLOUD_ROLE_ARN wins when set. */
    role_arn: str(""),
    /** Control-plane host[:port]; `http://host:port` selects plain HTTP (the emulator). */
    http_endpoint: str("ags.tencentcloudapi.com"),
    skip_ssl_verify: bool(false),
    region: str("ap-chongqing"),
    /** Sandbox data-plane domain; empty means `{region}.tencentags.com`. */
    domain: str(""),
    /** Existing SandboxTool; empty means find or create one per distinct configuration. */
    tool_id: str(""),
    image: str("python:3.11"),
    image_registry_type: str("enterprise"),
    /** Instance lifetime. */
    timeout: AgsDuration.default("1h"),
    port: z.coerce.number().int().min(1).max(65535).default(8000),
    startup_timeout: seconds(180),
    runtime_timeout: seconds(60),
    cpu: str("1"),
    memory: str("1Gi"),
    mount_name: str(""),
    mount_image: str(""),
    mount_image_registry_type: str("enterprise"),
    mount_path: str("/nix"),
    image_subpath: str("/nix"),
    mount_readonly: bool(false),
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
  .transform((c) => ({ ...c, domain: c.domain || `${c.region}.tencentags.com` }));

export type TencentAGSDeploymentConfig = z.infer<typeof TencentAGSDeploymentConfig>;
export type TencentAGSDeploymentConfigInput = z.input<typeof TencentAGSDeploymentConfig>;

export interface AgsCredentials {
  secretId: string;
  secretKey: string;
  roleArn: string;
}

/**
 * Credentials as seeds/004 specifies: TENCENTCLOUD_SECRET_ID / _SECRET_KEY / _ROLE_ARN take precedence over
 * the configuration and fill in what it leaves empty.
 */
export function resolveAgsCredentials(
  config: Pick<TencentAGSDeploymentConfig, "secret_id" | "secret_key" | "role_arn">,
  env: NodeJS.ProcessEnv = process.env,
): AgsCredentials {
  return {
    secretId: env.TENCENTCLOUD_SECRET_ID || config.secret_id,
    secretKey: env.TENCENTCLOUD_SECRET_KEY || config.secret_key,
    roleArn: env.TENCENTCLOUD_ROLE_ARN || config.role_arn,
  };
}
