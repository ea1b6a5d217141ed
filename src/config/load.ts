/**
 * One loader for every `swerex` command: process settings (convict) plus open configuration trees such as
 * `instances.deployment`, merged with the precedence flags > env vars > config file > defaults.
 */
import { envNameFor, envTree } from "./env.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { readConfigFile } from "./file.js";
import { type ParsedFlags, parseDottedFlags } from "./flags.js";
import { type BaseSettings, baseSettingsSchema, createSettings, type SettingsSchema } from "./settings.js";
import { type ConfigTree, getPath, mergeTrees, setPath } from "./values.js";

export interface LoadConfigOptions {
  /** The command's arguments (after the subcommand name), or flags already parsed with `parseDottedFlags`. */
  argv: readonly string[] | ParsedFlags;
  /** Environment variables; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** A config file; overrides `--config` and `SWEREX_CONFIG`. */
  file?: string;
  /**
   * Dotted prefixes this command accepts as flags, besides the settings and `--help`: e.g.
   * `["instances.deployment", "timeout"]` accepts `--instances.deployment.image=x` and `--timeout 5`. Their
   * first segments also name the env vars read (`SWEREX_INSTANCES__...`, `SWEREX_TIMEOUT`).
   */
  accept: readonly string[];
  /** Extra convict settings of this command, added to `baseSettingsSchema`. */
  settings?: SettingsSchema;
  /** The lowest layer of the tree. */
  defaults?: ConfigTree;
}

export interface LoadedConfig<S = BaseSettings> {
  settings: S;
  /** The merged tree (everything that is not a setting). */
  values: ConfigTree;
  positionals: string[];
  rest: string[];
  flags: ParsedFlags;
  /** The config file that was read, if any. */
  file: string | undefined;
  get(path: string): unknown;
  /** How to name `path` in an error: the flag, env var or file that set it, or the flag that would. */
  where(path: string | readonly string[]): string;
}

const ALWAYS_ACCEPTED = ["help", "version"];

/** Loads settings and trees; throws {@link ConfigError} naming each bad flag, env var or file key. */
export function loadConfig<S = BaseSettings>(opts: LoadConfigOptions): LoadedConfig<BaseSettings & S> {
  const env = opts.env ?? process.env;
  const flags = Array.isArray(opts.argv) ? parseDottedFlags(opts.argv) : (opts.argv as ParsedFlags);
  const schema = { ...baseSettingsSchema, ...opts.settings } as SettingsSchema;
  const settingKeys = new Set(Object.keys(schema));

  const flagTree: ConfigTree = {};
  const settingFlags: [string, unknown][] = [];
  const unknown: ConfigIssue[] = [];
  for (const e of flags.entries) {
    if (settingKeys.has(e.key)) settingFlags.push([e.key, e.value]);
    else if (ALWAYS_ACCEPTED.includes(e.key) || accepts(opts.accept, e.key))
      setPath(flagTree, e.path, e.value);
    else
      unknown.push({
        where: e.flag,
        message: `unknown option; accepted: ${acceptedList(opts.accept, settingKeys)}`,
      });
  }
  if (unknown.length > 0) throw new ConfigError(unknown);

  const conv = createSettings(schema, env);
  const applyFlags = () => {
    for (const [k, v] of settingFlags) conv.set(k, v);
  };
  applyFlags();
  const file = opts.file ?? (String(conv.get("config" as never) ?? "") || undefined);
  const fileTree: ConfigTree = {};
  if (file) {
    const data = readConfigFile(file);
    const fileSettings: ConfigTree = {};
    for (const [k, v] of Object.entries(data)) {
      if (k === "config") continue;
      if (settingKeys.has(k)) fileSettings[k] = v;
      else fileTree[k] = v;
    }
    conv.load(fileSettings); // convict re-applies env vars over loaded values
    applyFlags();
  }

  const roots = [...new Set(opts.accept.map((p) => p.split(".")[0] as string))];
  const envLayer = envTree(env, roots);
  const flagPaths = new Set(flags.entries.map((e) => e.key));
  const layers: Layer[] = [
    { tree: opts.defaults ?? {}, name: (path) => `${path.join(".")} (default)` },
    { tree: fileTree, name: (path) => `${path.join(".")} (in ${file})` },
    {
      tree: envLayer.values,
      setAt: new Set(envLayer.names.keys()),
      name: (path, at) => (at ? `${path.join(".")} (in ${envNameFor(at)})` : envNameFor(path)),
    },
    {
      tree: flagTree,
      setAt: flagPaths,
      name: (path, at) => (at ? `${path.join(".")} (in --${at.join(".")})` : `--${path.join(".")}`),
    },
  ];
  let values: unknown = {};
  for (const l of layers) values = mergeTrees(values, l.tree);
  const merged = values as ConfigTree;

  const where = (p: string | readonly string[]): string => {
    const path = typeof p === "string" ? p.split(".") : [...p];
    if (getPath(merged, path) === undefined) return `--${path.join(".")}`;
    const layer = [...layers].reverse().find((l) => getPath(l.tree, path) !== undefined);
    if (!layer) return `--${path.join(".")}`;
    if (!layer.setAt) return layer.name(path);
    for (let n = path.length; n > 0; n--) {
      if (!layer.setAt.has(path.slice(0, n).join("."))) continue;
      return n === path.length ? layer.name(path) : layer.name(path, path.slice(0, n));
    }
    return layer.name(path);
  };

  validateSettings(conv, (key) => {
    const flag = settingFlags.find(([k]) => k === key);
    if (flag) return `--${key}`;
    const envName = (schema[key] as { env?: string } | undefined)?.env;
    if (envName && env[envName] !== undefined) return envName;
    return file ? `${key} (in ${file})` : key;
  });

  return {
    settings: conv.getProperties() as BaseSettings & S,
    values: merged,
    positionals: flags.positionals,
    rest: flags.rest,
    flags,
    file,
    get: (path) => getPath(merged, path.split(".")),
    where,
  };
}

/** Settings alone: `loadConfig` for a command that has no trees. */
export function loadSettings<S = BaseSettings>(
  opts: Omit<LoadConfigOptions, "accept"> & { accept?: readonly string[] },
) {
  return loadConfig<S>({ ...opts, accept: opts.accept ?? [] }).settings;
}

interface Layer {
  tree: ConfigTree;
  /** Dotted paths this layer set explicitly (a flag or env var each); absent: every path is its own. */
  setAt?: Set<string>;
  /** Names `path` as set in this layer; `at` is the ancestor that holds it when it was set as part of an object. */
  name(path: string[], at?: string[]): string;
}

function accepts(prefixes: readonly string[], key: string): boolean {
  return prefixes.some((p) => key === p || key.startsWith(`${p}.`) || p.startsWith(`${key}.`));
}

function acceptedList(prefixes: readonly string[], settings: Set<string>): string {
  return [
    ...prefixes.map((p) => `--${p}${p.includes(".") ? ".<key>" : ""}`),
    ...[...settings].map((s) => `--${s}`),
  ].join(", ");
}

function validateSettings(conv: ReturnType<typeof createSettings>, where: (key: string) => string): void {
  try {
    conv.validate({ allowed: "strict" });
  } catch (err) {
    // convict reports one line per bad key: `<key>: <what it must be>: value was <value>`.
    const issues = String((err as Error).message)
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const m = /^([\w.]+): (.*)$/.exec(line);
        return m
          ? { where: where(m[1] as string), message: m[2] as string }
          : { where: "settings", message: line };
      });
    throw new ConfigError(issues);
  }
}
