/** DockerDeploymentConfig: SWE-ReX defaults, platform parsing (spec 7.2) and the docker_args translation. */
import { describe, expect, it } from "vitest";
import { parseDeploymentConfig } from "../../src/deployment/config.js";
import { DockerDeploymentConfig, extractPlatformArg } from "../../src/deployment/docker/config.js";
import { applyDockerArgs, SUPPORTED_DOCKER_ARGS } from "../../src/deployment/docker/docker-args.js";
import { parseSize } from "../../src/deployment/docker/units.js";

describe("DockerDeploymentConfig defaults", () => {
  it("has SWE-ReX's defaults plus ours", () => {
    expect(DockerDeploymentConfig.parse({})).toEqual({
      type: "docker",
      image: "python:3.11",
      port: null,
      docker_args: [],
      startup_timeout: 180,
      pull: "missing",
      remove_images: false,
      platform: null,
      remove_container: true,
      exec_shell: ["/bin/sh", "-c"],
      docker_internal_host: "http://127.0.0.1",
      container_runtime: "docker",
      python_standalone_dir: null,
      memory_limit: "8g",
      cpus: null,
      env: {},
      labels: {},
      runtime_mount: null,
    });
  });

  it("rejects unknown keys and bad values, naming the key", () => {
    expect(() => DockerDeploymentConfig.parse({ imagee: "x" })).toThrow(/imagee/);
    expect(() => DockerDeploymentConfig.parse({ pull: "sometimes" })).toThrow();
    expect(() => DockerDeploymentConfig.parse({ memory_limit: "lots" })).toThrow(/invalid size 'lots'/);
    expect(() => DockerDeploymentConfig.parse({ python_standalone_dir: "/root" })).toThrow(/runtime bundle/);
    expect(() => DockerDeploymentConfig.parse({ container_runtime: "podman" })).toThrow();
  });

  it("is a member of the DeploymentConfig union", () => {
    const c = parseDeploymentConfig({
      type: "docker",
      image: "busybox",
      docker_args: ["--platform=linux/amd64"],
    });
    expect(c).toMatchObject({ type: "docker", image: "busybox", platform: "linux/amd64", docker_args: [] });
  });
});

describe("platform parsing (SWE-ReX validate_platform_args)", () => {
  it("--platform=X sets platform and removes the element", () => {
    const c = DockerDeploymentConfig.parse({
      docker_args: ["--cpus", "1", "--platform=linux/amd64", "--init"],
    });
    expect(c.platform).toBe("linux/amd64");
    expect(c.docker_args).toEqual(["--cpus", "1", "--init"]);
  });

  it("--platform X takes the next element and removes both", () => {
    const c = DockerDeploymentConfig.parse({ docker_args: ["--platform", "linux/arm64", "-e", "A=1"] });
    expect(c.platform).toBe("linux/arm64");
    expect(c.docker_args).toEqual(["-e", "A=1"]);
  });

  it("keeps the platform field when docker_args has no --platform", () => {
    const c = DockerDeploymentConfig.parse({ platform: "linux/amd64", docker_args: ["--init"] });
    expect(c.platform).toBe("linux/amd64");
    expect(c.docker_args).toEqual(["--init"]);
  });

  it("only the first --platform is taken", () => {
    expect(extractPlatformArg(["--platform=a", "--platform=b"], null)).toEqual({
      platform: "a",
      docker_args: ["--platform=b"],
    });
  });

  it("both the field and the flag: SWE-ReX's error", () => {
    expect(() => extractPlatformArg(["--platform=linux/amd64"], "linux/arm64")).toThrow(
      "Cannot specify platform both via 'platform' field and '--platform' in docker_args",
    );
    expect(() => DockerDeploymentConfig.parse({ platform: "a", docker_args: ["--platform", "b"] })).toThrow(
      /Cannot specify platform both via 'platform' field and '--platform' in docker_args/,
    );
  });

  it("--platform as the last element: SWE-ReX's error", () => {
    expect(() => extractPlatformArg(["--init", "--platform"], null)).toThrow(
      "--platform argument must be followed by a value",
    );
  });
});

describe("docker_args translation", () => {
  it("maps the common flags into the create body", () => {
    const s = applyDockerArgs([
      "--cpus=1.5",
      "-m",
      "512m",
      "--memory-swap",
      "-1",
      "-e",
      "A=1",
      "--env=B=two=2",
      "--label",
      "team=rl",
      "-l",
      "flag",
      "-v",
      "/data:/data:ro",
      "--network",
      "host",
      "--shm-size",
      "1g",
      "--ulimit",
      "nofile=1024:2048",
      "--ulimit=nproc=512",
      "--add-host",
      "db:10.0.0.1",
      "--tmpfs",
      "/run:size=64m",
      "--init",
      "--privileged=false",
      "--cap-add",
      "SYS_PTRACE",
      "--pids-limit",
      "100",
      "-u",
      "1000:1000",
      "-w",
      "/work",
      "--rm",
    ]);
    expect(s).toEqual({
      Env: ["A=1", "B=two=2"],
      Labels: { team: "rl", flag: "" },
      User: "1000:1000",
      WorkingDir: "/work",
      HostConfig: {
        Binds: ["/data:/data:ro"],
        NanoCpus: 1_500_000_000,
        Memory: 512 * 1024 * 1024,
        MemorySwap: -1,
        NetworkMode: "host",
        ShmSize: 1024 ** 3,
        Ulimits: [
          { Name: "nofile", Soft: 1024, Hard: 2048 },
          { Name: "nproc", Soft: 512, Hard: 512 },
        ],
        ExtraHosts: ["db:10.0.0.1"],
        Tmpfs: { "/run": "size=64m" },
        Init: true,
        Privileged: false,
        CapAdd: ["SYS_PTRACE"],
        PidsLimit: 100,
      },
    });
  });

  it("-e NAME copies our own environment, and drops unset names (as the docker CLI)", () => {
    process.env.SWEREX_TEST_COPY = "copied";
    expect(applyDockerArgs(["-e", "SWEREX_TEST_COPY", "-e", "SWEREX_TEST_UNSET_XYZ"]).Env).toEqual([
      "SWEREX_TEST_COPY=copied",
    ]);
    delete process.env.SWEREX_TEST_COPY;
  });

  it("rejects an unknown flag with the list of supported ones", () => {
    expect(() => applyDockerArgs(["--gpus", "all"])).toThrow(
      `Unsupported docker_args option '--gpus'. Supported options: ${SUPPORTED_DOCKER_ARGS.join(", ")}`,
    );
    expect(() => DockerDeploymentConfig.parse({ docker_args: ["--device=/dev/kvm"] })).toThrow(
      /Unsupported docker_args option '--device'.*--cpus.*--memory\/-m/,
    );
  });

  it("rejects positionals, missing values and malformed values", () => {
    expect(() => applyDockerArgs(["ubuntu"])).toThrow(/may only hold options, got 'ubuntu'/);
    expect(() => applyDockerArgs(["--cpus"])).toThrow(
      "docker_args option '--cpus' must be followed by a value",
    );
    expect(() => applyDockerArgs(["--memory=huge"])).toThrow(/--memory.*invalid size 'huge'/);
    expect(() => applyDockerArgs(["--ulimit", "nofile"])).toThrow(/--ulimit expects KEY=VALUE/);
    expect(() => applyDockerArgs(["-v", "/only-one"])).toThrow(/--volume expects SOURCE:TARGET/);
  });
});

describe("parseSize", () => {
  it("reads docker size strings with 1024-based units", () => {
    expect(parseSize("8g")).toBe(8 * 1024 ** 3);
    expect(parseSize("512m")).toBe(512 * 1024 ** 2);
    expect(parseSize("1.5GiB")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("100")).toBe(100);
    expect(parseSize("64kb")).toBe(64 * 1024);
    expect(() => parseSize("8x")).toThrow(/invalid size/);
  });
});
