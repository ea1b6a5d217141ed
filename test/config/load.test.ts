import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  envNameFor,
  envTree,
  loadConfig,
  loadSettings,
  readConfigFile,
} from "../../src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "swerex-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const accept = ["instances.deployment", "timeout"];

describe("precedence: flags > env > file > defaults", () => {
  const yaml = file(
    "prec.yaml",
    [
      "log_level: warn",
      "instances:",
      "  deployment:",
      "    type: docker",
      "    image: from-file",
      "    pull: never",
      "    startup_timeout: 10",
    ].join("\n"),
  );
  const defaults = {
    instances: {
      deployment: { type: "docker", image: "from-default", pull: "missing", port: 1, startup_timeout: 180 },
    },
  };
  const env = {
    SWEREX_INSTANCES__DEPLOYMENT__IMAGE: "from-env",
    SWEREX_INSTANCES__DEPLOYMENT__PULL: "always",
    SWEREX_LOG_LEVEL: "error",
  };

  it("takes each key from the highest source that sets it", () => {
    const c = loadConfig({
      argv: ["--instances.deployment.image=from-flag", "--config", yaml],
      env,
      accept,
      defaults,
    });
    expect(c.values).toEqual({
      instances: {
        deployment: { type: "docker", image: "from-flag", pull: "always", port: 1, startup_timeout: 10 },
      },
    });
    expect(c.file).toBe(yaml);
    expect(c.where("instances.deployment.image")).toBe("--instances.deployment.image");
    expect(c.where("instances.deployment.pull")).toBe("SWEREX_INSTANCES__DEPLOYMENT__PULL");
    expect(c.where("instances.deployment.startup_timeout")).toBe(
      `instances.deployment.startup_timeout (in ${yaml})`,
    );
    expect(c.where("instances.deployment.port")).toBe("instances.deployment.port (default)");
    expect(c.where("instances.deployment.missing")).toBe("--instances.deployment.missing");
  });

  it("applies the same order to convict settings", () => {
    expect(loadConfig({ argv: [], env: {}, accept }).settings.log_level).toBe("info");
    expect(loadConfig({ argv: [], env: {}, accept, file: yaml }).settings.log_level).toBe("warn");
    expect(loadConfig({ argv: [], env, accept, file: yaml }).settings.log_level).toBe("error");
    expect(loadConfig({ argv: ["--log_level=debug"], env, accept, file: yaml }).settings.log_level).toBe(
      "debug",
    );
  });

  it("finds the config file through SWEREX_CONFIG, and the `file` option wins over --config", () => {
    const other = file("other.json", JSON.stringify({ instances: { deployment: { image: "json-file" } } }));
    expect(
      loadConfig({ argv: [], env: { SWEREX_CONFIG: other }, accept }).get("instances.deployment.image"),
    ).toBe("json-file");
    expect(
      loadConfig({ argv: ["--config", yaml], env: {}, accept, file: other }).get(
        "instances.deployment.image",
      ),
    ).toBe("json-file");
  });

  it("drops lower sources' keys of an object whose type a higher source changes", () => {
    const c = loadConfig({ argv: ["--instances.deployment.type=local"], env: {}, accept, file: yaml });
    expect(c.get("instances.deployment")).toEqual({ type: "local" });
  });

  it("names a key set inside a JSON object flag or env var by its container", () => {
    const c = loadConfig({
      argv: ['--instances.deployment={"type":"remote","auth_token":"x"}'],
      env: { SWEREX_TIMEOUT: "5" },
      accept,
    });
    expect(c.where("instances.deployment.auth_token")).toBe(
      "instances.deployment.auth_token (in --instances.deployment)",
    );
    expect(c.get("timeout")).toBe(5);
    expect(c.where("timeout")).toBe("SWEREX_TIMEOUT");
  });

  it("returns positionals and the words after --", () => {
    const c = loadConfig({ argv: ["--timeout", "3", "--", "echo", "hi"], env: {}, accept });
    expect(c.rest).toEqual(["echo", "hi"]);
    expect(c.get("timeout")).toBe(3);
  });
});

describe("extra settings of a command", () => {
  const settings = { port: { doc: "proxy port", format: "port", default: 8080, env: "SWEREX_PROXY_PORT" } };

  it("get their default, env var (coerced by format) and flag, in that order", () => {
    type S = { port: number };
    expect(loadConfig<S>({ argv: [], env: {}, accept: [], settings }).settings.port).toBe(8080);
    expect(
      loadConfig<S>({ argv: [], env: { SWEREX_PROXY_PORT: "9000" }, accept: [], settings }).settings.port,
    ).toBe(9000);
    expect(
      loadConfig<S>({ argv: ["--port", "9100"], env: { SWEREX_PROXY_PORT: "9000" }, accept: [], settings })
        .settings.port,
    ).toBe(9100);
  });

  it("are rejected with the env var's name when out of range", () => {
    expect(() => loadConfig({ argv: [], env: { SWEREX_PROXY_PORT: "70000" }, accept: [], settings })).toThrow(
      /^SWEREX_PROXY_PORT: ports must be within range 0 - 65535/,
    );
  });
});

describe("rejections name the flag, env var or file and what is accepted", () => {
  it("rejects flags the command does not accept", () => {
    expect(() => loadConfig({ argv: ["--instance.deployment.type=local"], env: {}, accept })).toThrow(
      "--instance.deployment.type: unknown option; accepted: --instances.deployment.<key>, --timeout, --log_level, --deployment_type, --config",
    );
  });

  it("rejects a bad setting from a flag, naming the flag and the accepted values", () => {
    const err = (() => {
      try {
        loadConfig({ argv: ["--log_level=loud"], env: {}, accept });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.issues[0]?.where).toBe("--log_level");
    expect(err?.message).toMatch(
      /^--log_level: must be one of the possible values: .*"trace".*"silent".*value was "loud"/,
    );
  });

  it("rejects a bad setting from the environment, naming the variable", () => {
    expect(() => loadSettings({ argv: [], env: { SWEREX_LOG_LEVEL: "loud" } })).toThrow(
      /^SWEREX_LOG_LEVEL: must be one of/,
    );
  });

  it("rejects unreadable and malformed files", () => {
    expect(() => readConfigFile(join(dir, "nope.yaml"))).toThrow(/nope\.yaml: cannot read config file/);
    expect(() => readConfigFile(file("bad.json", "{"))).toThrow(/bad\.json: not valid JSON/);
    expect(() => readConfigFile(file("list.yaml", "- a\n- b\n"))).toThrow(/must hold a mapping/);
    expect(() => readConfigFile(file("proto.json", '{"__proto__": {"x": 1}}'))).toThrow(/key not allowed/);
    expect(readConfigFile(file("empty.yaml", ""))).toEqual({});
  });
});

describe("env var convention", () => {
  it("maps SWEREX_ + upper-case path with __ between segments, keeping snake_case keys", () => {
    expect(envNameFor(["instances", "deployment", "docker_args"])).toBe(
      "SWEREX_INSTANCES__DEPLOYMENT__DOCKER_ARGS",
    );
    const t = envTree(
      {
        SWEREX_INSTANCES__DEPLOYMENT__DOCKER_ARGS: '["--cpus","2"]',
        SWEREX_INSTANCES__DEPLOYMENT__REMOVE_CONTAINER: "false",
        SWEREX_INSTANCESX: "ignored",
        SWEREX_POLICY__TYPE: "ignored: not a root",
        OTHER: "x",
      },
      ["instances"],
    );
    expect(t.values).toEqual({
      instances: { deployment: { docker_args: ["--cpus", "2"], remove_container: false } },
    });
    expect(t.names.get("instances.deployment.docker_args")).toBe("SWEREX_INSTANCES__DEPLOYMENT__DOCKER_ARGS");
  });

  it("rejects a malformed name", () => {
    expect(() => envTree({ SWEREX_INSTANCES____X: "1" }, ["instances"])).toThrow(
      /^SWEREX_INSTANCES____X: not a valid key path/,
    );
    expect(() => envTree({ SWEREX_INSTANCES__: "1" }, ["instances"])).toThrow(
      /^SWEREX_INSTANCES__: not a valid key path/,
    );
  });
});
