/**
 * Configuration for every `swerex` command: the dotted flag parser, env vars, config files, convict
 * settings, and their merge (flags > env > file > defaults). See docs/configuration.md.
 */
export { ENV_PREFIX, envNameFor, envTree } from "./env.js";
export { ConfigError, type ConfigIssue } from "./errors.js";
export { readConfigFile } from "./file.js";
export { type FlagEntry, type ParsedFlags, parseDottedFlags } from "./flags.js";
export { type LoadConfigOptions, type LoadedConfig, loadConfig, loadSettings } from "./load.js";
export { type BaseSettings, baseSettingsSchema, LOG_LEVELS, type SettingsSchema } from "./settings.js";
export { type ConfigTree, mergeTrees, parseValue } from "./values.js";
export { coerceStringFields, type IssueContext, type WhereFn, zodIssues } from "./zod.js";
