/**
 * `type: controlplane` deployment configuration: a sandbox asked of a running `swerex serve` (docs/control-plane.md).
 * `deployment` is the backend config the service starts (merged by the service over its own default and
 * validated there, so this side needs no knowledge of the backend types the service supports).
 */
import { z } from "zod";

/** Flags and YAML may give numbers as strings ("600") and metadata values as numbers or booleans. */
const seconds = (def: number) => z.coerce.number().nonnegative().default(def);
const metadataValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export const ControlPlaneDeploymentConfig = z.strictObject({
  type: z.literal("controlplane").default("controlplane"),
  /** The service's base URL, e.g. `http://10.0.0.5:8080`. Empty: taken from SWEREX_URL. */
  url: z
    .string()
    .refine((v) => v === "" || /^https?:\/\/[^/]/i.test(v), "must start with http:// or https://")
    .default(""),
  /** The service's API key. Empty: taken from SWEREX_API_KEY (a key given here wins). */
  api_key: z.string().default(""),
  /** The backend deployment config the service starts, e.g. `{type: docker, image: python:3.11}`. */
  deployment: z.record(z.string(), z.unknown()).default({}),
  /** Lease length in seconds; null: the service's `--default_ttl`. */
  ttl: z.coerce.number().positive().nullable().default(null),
  /** Labels stored with the sandbox (`swerex sandbox list --metadata.KEY=VALUE` finds them). */
  metadata: z.record(z.string(), metadataValue).default({}),
  /** Seconds from the create request until the sandbox is running (a docker pull or AGS start may be slow). */
  startup_timeout: seconds(600),
  /**
   * Seconds between lease renewals while started, so a long run is not reaped; null: a third of the lease;
   * 0: never renew (the sandbox then lives for `ttl` at most).
   */
  lease_renewal: z.coerce.number().nonnegative().nullable().default(null),
  /** Deadline of `is_alive` through the pass-through and of requests that carry no timeout of their own. */
  runtime_timeout: seconds(60),
  /** Deadline of each control API call (create, get, lease, delete). */
  request_timeout: seconds(60),
});
export type ControlPlaneDeploymentConfig = z.infer<typeof ControlPlaneDeploymentConfig>;
export type ControlPlaneDeploymentConfigInput = z.input<typeof ControlPlaneDeploymentConfig>;

export interface ControlPlaneEndpoint {
  url: string;
  apiKey: string;
}

/**
 * Where the service is and the key to use: the config's values, else SWEREX_URL / SWEREX_API_KEY (the names
 * `swerex sandbox` reads too). The config wins, so two deployments in one process can use two services.
 */
export function resolveControlPlaneEndpoint(
  config: Pick<ControlPlaneDeploymentConfig, "url" | "api_key">,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ControlPlaneEndpoint {
  return { url: config.url || env.SWEREX_URL || "", apiKey: config.api_key || env.SWEREX_API_KEY || "" };
}
