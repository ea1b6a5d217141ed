/**
 * Process-level settings (convict): a fixed set of keys, each with a default, an env var and a flag.
 * Open-ended trees such as `instances.deployment` are not settings; `load.ts` merges those.
 */
import convict from "convict";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** The settings every `swerex` command understands. Commands may add their own (see `loadConfig`). */
export const baseSettingsSchema = {
  log_level: {
    doc: "Log level of swerex's own logs (on stderr).",
    format: [...LOG_LEVELS],
    default: "info" as (typeof LOG_LEVELS)[number],
    env: "SWEREX_LOG_LEVEL",
  },
  deployment_type: {
    doc: "Deployment type used when instances.deployment.type is not given.",
    format: String,
    default: "docker",
    env: "SWEREX_DEPLOYMENT_TYPE",
  },
  config: {
    doc: "A YAML or JSON config file (lower precedence than env vars and flags).",
    format: String,
    default: "",
    env: "SWEREX_CONFIG",
  },
};

export type SettingsSchema = convict.Schema<Record<string, unknown>>;
export type BaseSettings = {
  log_level: (typeof LOG_LEVELS)[number];
  deployment_type: string;
  config: string;
};

/** The convict instance for a schema, reading env vars from `env` (never from `process.argv`). */
export function createSettings(schema: SettingsSchema, env: Readonly<Record<string, string | undefined>>) {
  return convict(schema, { env: env as NodeJS.ProcessEnv, args: [] });
}
