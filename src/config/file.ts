/** Configuration files: YAML (`.yaml`, `.yml`) or JSON (`.json`); anything else is read as YAML, a superset of JSON. */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors.js";
import { type ConfigTree, isForbiddenKey, isPlainObject, leafPaths } from "./values.js";

export function readConfigFile(path: string): ConfigTree {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([{ where: path, message: `cannot read config file: ${(err as Error).message}` }]);
  }
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([
      {
        where: path,
        message: `not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`,
      },
    ]);
  }
  if (data === null || data === undefined) return {};
  if (!isPlainObject(data)) {
    throw new ConfigError([
      { where: path, message: "a config file must hold a mapping (key: value) at the top level" },
    ]);
  }
  const bad = leafPaths(data).find((p) => p.some(isForbiddenKey));
  if (bad) throw new ConfigError([{ where: `${bad.join(".")} (in ${path})`, message: "key not allowed" }]);
  return data;
}
