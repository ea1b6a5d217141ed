/**
 * `DockerDeploymentConfig`: SWE-ReX's fields and defaults (spec 7.2), plus resource limits, env, labels and
 * where the runtime bundle comes from. Unknown keys are rejected, as SWE-ReX's `extra="forbid"`.
 */
import { z } from "zod";
import { applyDockerArgs, DockerArgsError } from "./docker-args.js";
import { parseSize } from "./units.js";

/**
 * SWE-ReX's `validate_platform_args`: the first `docker_args` element that starts with `--platform` moves into
 * `platform` (`--platform=X`, or `--platform X` taking the next element). Throws SWE-ReX's messages.
 */
export function extractPlatformArg(
  dockerArgs: readonly string[],
  platform: string | null,
): { docker_args: string[]; platform: string | null } {
  const args = [...dockerArgs];
  const i = args.findIndex((a) => a.startsWith("--platform"));
  if (i < 0) return { docker_args: args, platform };
  if (platform !== null) {
    throw new Error("Cannot specify platform both via 'platform' field and '--platform' in docker_args");
  }
  const arg = args[i] ?? "";
  if (arg.startsWith("--platform=")) {
    args.splice(i, 1);
    return { docker_args: args, platform: arg.slice("--platform=".length) };
  }
  if (i + 1 >= args.length) throw new Error("--platform argument must be followed by a value");
  const value = args[i + 1] ?? "";
  args.splice(i, 2);
  return { docker_args: args, platform: value };
}

const DockerDeploymentFields = z
  .object({
    type: z.literal("docker").default("docker"),
    /** Image to run; it needs `/bin/sh` (or whatever `exec_shell` names), nothing else. */
    image: z.string().min(1).default("python:3.11"),
    /** Host port for the runtime server; null picks a free loopback port. */
    port: z.number().int().min(1).max(65535).nullable().default(null),
    docker_args: z.array(z.string()).default([]),
    /** Seconds to wait for the runtime to answer `/is_alive`. */
    startup_timeout: z.number().positive().default(180),
    pull: z.enum(["never", "always", "missing"]).default("missing"),
    remove_images: z.boolean().default(false),
    platform: z.string().min(1).nullable().default(null),
    remove_container: z.boolean().default(true),
    exec_shell: z.array(z.string()).min(1).default(["/bin/sh", "-c"]),
    docker_internal_host: z.string().default("http://127.0.0.1"),
    /** Accepted for SWE-agent configs; only Docker's Engine API is spoken (point DOCKER_HOST at podman's socket). */
    container_runtime: z.literal("docker").default("docker"),
    /** SWE-ReX's standalone-python build is replaced by the runtime bundle; only null is accepted. */
    python_standalone_dir: z
      .null({
        error: "python_standalone_dir is not supported: the runtime bundle (runtime_mount) replaces it",
      })
      .default(null),
    /** Docker size string ("8g", "512m"); null for no limit. */
    memory_limit: z.string().nullable().default("8g"),
    /** CPUs the container may use (fractions allowed); null for no limit. */
    cpus: z.number().positive().nullable().default(null),
    env: z.record(z.string(), z.string()).default({}),
    labels: z.record(z.string(), z.string()).default({}),
    /**
     * Host directory holding the runtime bundle (`run-swerex` at its top), bind-mounted read-only at
     * `/nix/swerex`. null: the bundle built by `npm run build:bundle` (built on first use). "none": mount
     * nothing and rely on a `swerex-remote` already on the image's PATH.
     */
    runtime_mount: z.string().min(1).nullable().default(null),
  })
  .strict();

export const DockerDeploymentConfig = DockerDeploymentFields.superRefine((cfg, ctx) => {
  try {
    const { docker_args } = extractPlatformArg(cfg.docker_args, cfg.platform);
    applyDockerArgs(docker_args);
  } catch (err) {
    ctx.addIssue({ code: "custom", path: ["docker_args"], message: (err as Error).message });
  }
  if (cfg.memory_limit !== null) {
    try {
      parseSize(cfg.memory_limit);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["memory_limit"], message: (err as Error).message });
    }
  }
}).transform((cfg) => ({ ...cfg, ...extractPlatformArg(cfg.docker_args, cfg.platform) }));

export type DockerDeploymentConfig = z.output<typeof DockerDeploymentConfig>;
export type DockerDeploymentConfigInput = z.input<typeof DockerDeploymentConfig>;

export { DockerArgsError };
