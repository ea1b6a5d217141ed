/** The start command of a swerex-ts SandboxTool (spec/ags.md 4.1). */
import { describe, expect, it } from "vitest";
import { TencentAGSDeploymentConfig } from "../../src/deployment/ags/config.js";
import { instanceOverride, swerexStartCommand } from "../../src/deployment/ags/tool-spec.js";

describe("swerexStartCommand", () => {
  it("with a mount: the mounted launcher first, swerex-remote on the PATH as fallback", () => {
    expect(swerexStartCommand({ port: 8000, mount_path: "/nix", mount_image: "swerex-runtime:1" })).toBe(
      "/nix/swerex/run-swerex --port 8000 --auth-token '' || swerex-remote --port 8000 --auth-token ''",
    );
  });

  it("without a mount: the image's own swerex-remote", () => {
    expect(swerexStartCommand({ port: 8123, mount_path: "/nix", mount_image: "" })).toBe(
      "exec swerex-remote --port 8123 --auth-token ''",
    );
  });

  it("quotes a mount path the shell would split, and drops a trailing slash", () => {
    expect(swerexStartCommand({ port: 1, mount_path: "/opt/my rex/", mount_image: "r" })).toBe(
      "'/opt/my rex/swerex/run-swerex' --port 1 --auth-token '' || swerex-remote --port 1 --auth-token ''",
    );
  });
});

describe("instanceOverride (tool_id)", () => {
  const config = TencentAGSDeploymentConfig.parse({ image: "task:1" });
  const toolMount = {
    StorageMounts: [
      {
        Name: "rex",
        MountPath: "/opt/rex",
        StorageSource: { Image: { Reference: "rt:1", SubPath: "/nix" } },
      },
    ],
  };

  it("without mount_image, starts from the tool's own image mount", () => {
    expect(instanceOverride(config, toolMount).Args).toEqual([
      "/opt/rex/swerex/run-swerex --port 8000 --auth-token '' || swerex-remote --port 8000 --auth-token ''",
    ]);
  });

  it("mount_image in the config wins; a tool without mounts keeps swerex-remote", () => {
    expect(instanceOverride({ ...config, mount_image: "rt:2" }, toolMount).Args?.[0]).toMatch(
      /^\/nix\/swerex\/run-swerex /,
    );
    expect(instanceOverride(config, {}).Args).toEqual(["exec swerex-remote --port 8000 --auth-token ''"]);
  });
});
