import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { TencentAGSDeployment, TencentAGSDeploymentConfig } from "../../src/deployment/ags/index.js";
import {
  DeploymentConfig,
  DockerDeployment,
  DockerDeploymentConfig,
  DummyDeployment,
  deploymentTypes,
  getDeployment,
  LocalDeployment,
  parseDeploymentConfig,
  RemoteDeployment,
} from "../../src/deployment/index.js";

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("defaults of each deployment type", () => {
  it("local has no other keys", () => {
    expect(parseDeploymentConfig({ type: "local" })).toEqual({ type: "local" });
  });

  it("remote: auth_token required; host http://127.0.0.1, port null, timeout 0.15", () => {
    const c = parseDeploymentConfig({ type: "remote", auth_token: "t" });
    expect(c).toMatchObject({
      type: "remote",
      auth_token: "t",
      host: "http://127.0.0.1",
      port: null,
      timeout: 0.15,
    });
  });

  it("dummy has no other keys", () => {
    expect(parseDeploymentConfig({ type: "dummy" })).toEqual({ type: "dummy" });
  });

  // The literal defaults are pinned by each member's own tests (test/docker/config.test.ts,
  // test/ags/config.test.ts); here: the union hands each type to its member's schema, defaults and all.
  it("docker and tencentags get their member schema's defaults through the union", () => {
    expect(parseDeploymentConfig({ type: "docker" })).toEqual(DockerDeploymentConfig.parse({}));
    expect(parseDeploymentConfig({ type: "docker" })).toMatchObject({
      image: "python:3.11",
      startup_timeout: 180,
    });
    expect(parseDeploymentConfig({ type: "tencentags" })).toEqual(TencentAGSDeploymentConfig.parse({}));
    expect(parseDeploymentConfig({ type: "tencentags" })).toMatchObject({ port: 8000, mount_path: "/nix" });
  });

  it("the union parses like each member", () => {
    expect(DeploymentConfig.parse({ type: "local" })).toEqual({ type: "local" });
    expect(deploymentTypes()).toEqual(expect.arrayContaining(["local", "remote", "dummy"]));
  });
});

describe("rejections", () => {
  it("rejects an unknown key, naming it and the accepted keys", () => {
    expect(errorOf(() => parseDeploymentConfig({ type: "local", image: "x" })).message).toBe(
      'image: unknown key for deployment type "local"; accepted keys: type',
    );
  });

  it("rejects an unknown type with the list of types", () => {
    expect(errorOf(() => parseDeploymentConfig({ type: "nope" })).message).toBe(
      `type: expected one of ${deploymentTypes().join("|")}, got "nope"`,
    );
  });

  it("requires a type unless a default type is given", () => {
    expect(errorOf(() => parseDeploymentConfig({})).message).toBe(
      `type: required (one of ${deploymentTypes().join("|")})`,
    );
    expect(parseDeploymentConfig({}, { defaultType: "local" })).toEqual({ type: "local" });
    expect(parseDeploymentConfig({ type: "dummy" }, { defaultType: "local" })).toEqual({ type: "dummy" });
  });

  it("rejects a non-object", () => {
    expect(errorOf(() => parseDeploymentConfig("local")).message).toBe(
      'deployment config: expected an object with a "type" key, got "local"',
    );
  });

  it("names the flag or env var that set a bad value", () => {
    const c = loadConfig({
      argv: ["--instances.deployment.type=remote", "--instances.deployment.port=abc"],
      env: { SWEREX_INSTANCES__DEPLOYMENT__TIMEOUT: "-1" },
      accept: ["instances.deployment"],
    });
    const err = errorOf(() =>
      parseDeploymentConfig(c.get("instances.deployment"), {
        where: (p) => c.where(["instances", "deployment", ...p]),
      }),
    );
    expect(err.issues).toContainEqual({
      where: "--instances.deployment.port",
      message: 'expected number, got "abc"',
    });
    expect(err.issues).toContainEqual({
      where: "--instances.deployment.auth_token",
      message: "required (string)",
    });
    expect(err.issues.find((i) => i.where === "SWEREX_INSTANCES__DEPLOYMENT__TIMEOUT")?.message).toMatch(
      />=0, got -1$/,
    );
  });

  it("turns the issue's docker flags into the nested config", () => {
    const c = loadConfig({
      argv: [
        "--instances.deployment.type=docker",
        "--instances.deployment.image=python:3.11",
        `--instances.deployment.docker_args=["--cpus","2"]`,
      ],
      env: {},
      accept: ["instances.deployment"],
    });
    expect(parseDeploymentConfig(c.get("instances.deployment"))).toMatchObject({
      type: "docker",
      image: "python:3.11",
      docker_args: ["--cpus", "2"],
    });
  });

  it("rejects pull=sometimes naming the flag and the accepted values", () => {
    const c = loadConfig({
      argv: ["--instances.deployment.type=docker", "--instances.deployment.pull=sometimes"],
      env: {},
      accept: ["instances.deployment"],
    });
    expect(
      errorOf(() =>
        parseDeploymentConfig(c.get("instances.deployment"), {
          where: (p) => c.where(["instances", "deployment", ...p]),
        }),
      ).message,
    ).toBe('--instances.deployment.pull: expected one of never|always|missing, got "sometimes"');
  });

  it("takes a numeric auth_token from a flag as the text typed", () => {
    const c = loadConfig({
      argv: ["--instances.deployment.auth_token=123"],
      env: {},
      accept: ["instances.deployment"],
    });
    expect(parseDeploymentConfig(c.get("instances.deployment"), { defaultType: "remote" })).toMatchObject({
      auth_token: "123",
    });
  });
});

describe("getDeployment", () => {
  it("returns the deployment class of the config's type, from raw or parsed configs", () => {
    expect(getDeployment({ type: "local" })).toBeInstanceOf(LocalDeployment);
    expect(getDeployment({ type: "remote", auth_token: "" })).toBeInstanceOf(RemoteDeployment);
    expect(getDeployment(parseDeploymentConfig({ type: "dummy" }))).toBeInstanceOf(DummyDeployment);
    expect(getDeployment({ type: "docker" })).toBeInstanceOf(DockerDeployment);
    expect(getDeployment({ type: "tencentags" })).toBeInstanceOf(TencentAGSDeployment);
  });

  it("rejects a bad config before building anything", () => {
    expect(() => getDeployment({ type: "remote" })).toThrow("auth_token: required (string)");
  });
});
