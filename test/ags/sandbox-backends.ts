/**
 * The two sandbox backends the AGS integration tests run against:
 * - `local`: the emulator starts a swerex-remote process per instance (fast, no engine needed);
 * - `docker`: the emulator runs the tool's image as a container and mounts the runtime bundle image at /nix,
 *   the way real AGS does. The task image is the busybox test image (no node, no bash, no libc), so a passing
 *   test proves the mounted `/nix/swerex/run-swerex` alone runs the sandbox.
 * Docker cases use `describeDocker`: skipped with a message without an engine, failing under CI=true.
 */
import type { describe } from "vitest";
import { describe as plainDescribe } from "vitest";
import { buildBundle } from "../../src/bundle/build.js";
import { buildBundleImage, LABEL_BUNDLE_BUILD_ID } from "../../src/bundle/image.js";
import type { TencentAGSDeploymentConfigInput } from "../../src/deployment/ags/config.js";
import type { AgsEmulator, AgsEmulatorOptions } from "../../src/emulator/ags/index.js";
import {
  busyboxImage,
  describeDocker,
  docker,
  fileLabel,
  removeContainersWithLabel,
} from "../docker/fixtures.js";
import { startEmulator } from "./emulator-helpers.js";

export type BackendName = "local" | "docker";
export const BACKENDS: readonly BackendName[] = ["local", "docker"];

/** The bundle image the docker backend mounts; rebuilt only when the bundle's build id changes. */
export const MOUNT_IMAGE = "swerex-runtime:ags-test";
/** AGS (and the emulator) refuse image mounts without a role. */
export const ROLE_ARN = "qcs::cam::uin/100000001:roleName/swerex";

export const describeBackend = (backend: BackendName): typeof describe =>
  backend === "docker" ? describeDocker : plainDescribe;

async function mountImage(): Promise<string> {
  const { buildId } = await buildBundle();
  const current = await docker
    .getImage(MOUNT_IMAGE)
    .inspect()
    .then((i) => i.Config.Labels?.[LABEL_BUNDLE_BUILD_ID])
    .catch(() => undefined);
  if (current !== buildId) await buildBundleImage({ tag: MOUNT_IMAGE, docker });
  return MOUNT_IMAGE;
}

let images: Promise<{ taskImage: string; mountImage: string }> | undefined;
/** Busybox task image and bundle mount image, made once per test process. */
export function dockerImages(): Promise<{ taskImage: string; mountImage: string }> {
  images ??= Promise.all([busyboxImage(), mountImage()]).then(([taskImage, mount]) => ({
    taskImage,
    mountImage: mount,
  }));
  return images;
}

/** What a deployment needs on top of `emulatorConfig` to run on the docker backend. */
export function dockerDeploymentConfig(imgs: {
  taskImage: string;
  mountImage: string;
}): TencentAGSDeploymentConfigInput {
  return {
    image: imgs.taskImage,
    image_registry_type: "enterprise",
    mount_image: imgs.mountImage,
    mount_image_registry_type: "enterprise",
    mount_path: "/nix",
    image_subpath: "/nix",
    role_arn: ROLE_ARN,
  };
}

export interface BackendEmulator {
  emu: AgsEmulator;
  /** Config keys this backend needs (images and mount for docker; nothing for local). */
  config: TencentAGSDeploymentConfigInput;
  /** Stops the emulator and, for docker, removes any container the file left behind. */
  close(): Promise<void>;
}

/**
 * One emulator for a test file on the given backend. `local` is the emulator's swerex-remote process
 * backend unless `localBackend` says otherwise (e.g. the in-process one).
 */
export async function startBackendEmulator(
  backend: BackendName,
  opts: Partial<AgsEmulatorOptions> & { localBackend?: AgsEmulatorOptions["backend"] } = {},
): Promise<BackendEmulator> {
  const { localBackend, ...emuOpts } = opts;
  if (backend === "local") {
    const emu = await startEmulator({ backend: localBackend ?? "local", ...emuOpts });
    return { emu, config: {}, close: () => emu.close() };
  }
  const imgs = await dockerImages();
  const label = fileLabel();
  const emu = await startEmulator({
    backend: "docker",
    docker: { docker, labels: label.labels },
    ...emuOpts,
  });
  return {
    emu,
    config: dockerDeploymentConfig(imgs),
    close: async () => {
      await emu.close();
      await removeContainersWithLabel(label.filter);
    },
  };
}
