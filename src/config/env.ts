/**
 * Configuration trees from environment variables. Convention: `SWEREX_` + the dotted path in upper case,
 * with `__` (two underscores) between segments, so snake_case keys survive:
 * `SWEREX_INSTANCES__DEPLOYMENT__DOCKER_ARGS='["--cpus","2"]'` sets `instances.deployment.docker_args`.
 */
import { ConfigError, type ConfigIssue } from "./errors.js";
import { type ConfigTree, isForbiddenKey, parseValue, setPath } from "./values.js";

export const ENV_PREFIX = "SWEREX_";

/** The env var that sets a dotted path: `instances.deployment.image` → `SWEREX_INSTANCES__DEPLOYMENT__IMAGE`. */
export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((s) => s.toUpperCase()).join("__");
}

export interface EnvTree {
  values: ConfigTree;
  /** Dotted path → the variable that set it. */
  names: Map<string, string>;
}

/** Reads the variables under the given top-level keys (`instances` reads `SWEREX_INSTANCES__*`). */
export function envTree(
  env: Readonly<Record<string, string | undefined>>,
  roots: readonly string[],
): EnvTree {
  const values: ConfigTree = {};
  const names = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  // Sorted so that a parent (`SWEREX_A`) is applied before its children (`SWEREX_A__B`) and they merge into it.
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (raw === undefined) continue;
    for (const root of roots) {
      const exact = envNameFor([root]);
      if (name !== exact && !name.startsWith(`${exact}__`)) continue;
      const path = name
        .slice(ENV_PREFIX.length)
        .split("__")
        .map((s) => s.toLowerCase());
      if (path.some((s) => s === "" || isForbiddenKey(s))) {
        issues.push({
          where: name,
          message: "not a valid key path (segments are separated by exactly two underscores)",
        });
      } else if (setPath(values, path, parseValue(raw))) {
        issues.push({
          where: name,
          message: `conflicts with ${envNameFor(path.slice(0, -1))}, which is not an object`,
        });
      } else {
        names.set(path.join("."), name);
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { values, names };
}
