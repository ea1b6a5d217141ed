/**
 * A request's `deployment` merged over the service's default and validated with the CLI's field-naming
 * messages (`deployment.pull: expected one of never|always|missing, got "sometimes"`). A request of another
 * type than the default starts from nothing: the default's keys belong to its own type.
 */
import { ConfigError, type ConfigTree, mergeTrees } from "../config/index.js";
import { type DeploymentConfig, parseDeploymentConfig } from "../deployment/index.js";

export interface DeploymentDefaults {
  /** The `instances.deployment` tree of the service's configuration (may hold secrets). */
  tree: ConfigTree;
  /** The `deployment_type` setting: the type when neither the request nor the tree names one. */
  defaultType: string;
}

export function resolveDeployment(
  requested: ConfigTree | undefined,
  defaults: DeploymentDefaults,
  servable: readonly string[],
): DeploymentConfig {
  const req = requested ?? {};
  const defaultType = (defaults.tree.type as string | undefined) ?? defaults.defaultType;
  const base = req.type === undefined || req.type === defaultType ? defaults.tree : {};
  const merged = mergeTrees(base, req);
  const config = parseDeploymentConfig(merged, {
    defaultType,
    where: (path) => ["deployment", ...path].join("."),
  });
  if (!servable.includes(config.type)) {
    throw new ConfigError([
      {
        where: "deployment.type",
        message: `this service does not run ${JSON.stringify(config.type)} sandboxes; it runs ${servable.join("|")}`,
      },
    ]);
  }
  return config;
}
