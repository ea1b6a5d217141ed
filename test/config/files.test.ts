import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, readConfigFile } from "../../src/config/index.js";
import { parseDeploymentConfig } from "../../src/deployment/index.js";

const root = join(import.meta.dirname, "../..");

describe("shipped config files", () => {
  it("config/default.yaml holds exactly the code's setting defaults", () => {
    const fromCode = loadConfig({ argv: [], env: {}, accept: [] }).settings;
    const file = readConfigFile(join(root, "config/default.yaml"));
    expect(file).toEqual({ log_level: fromCode.log_level, deployment_type: fromCode.deployment_type });
  });

  it("config/example.yaml loads and describes a valid deployment", () => {
    const c = loadConfig({
      argv: [],
      env: {},
      accept: ["instances.deployment"],
      file: join(root, "config/example.yaml"),
    });
    expect(c.settings.log_level).toBe("info");
    expect(parseDeploymentConfig(c.get("instances.deployment"))).toEqual({ type: "local" });
  });
});
