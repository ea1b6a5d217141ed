/**
 * `swerex bundle image`: a local Docker image that holds the runtime bundle under /nix/swerex and nothing
 * else (FROM scratch). It is the form AGS mounts into a sandbox (`mount_image`, `image_subpath`), and any
 * Dockerfile can take the bundle from it with `COPY --from=<tag> /nix/swerex /nix/swerex`.
 */
import { rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type Docker from "dockerode";
import { followProgress, sharedDockerClient } from "../docker/engine.js";
import { type BundleInfo, buildBundle } from "./build.js";
import { BUNDLE_MOUNT_PATH } from "./paths.js";

export const DEFAULT_BUNDLE_IMAGE_TAG = "swerex-runtime:latest";
export const LABEL_BUNDLE_BUILD_ID = "swerex.bundle.build-id";

export interface BuildBundleImageOptions {
  tag?: string;
  /** Bundle directory; built (or brought up to date) first. Default build/bundle/swerex. */
  bundleDir?: string;
  docker?: Docker;
  onProgress?: (message: string) => void;
  /** Deadline of the image build. Default 10 minutes. */
  timeoutMs?: number;
}

export interface BundleImage {
  tag: string;
  bundle: BundleInfo;
}

export async function buildBundleImage(opts: BuildBundleImageOptions = {}): Promise<BundleImage> {
  const tag = opts.tag ?? DEFAULT_BUNDLE_IMAGE_TAG;
  const docker = opts.docker ?? sharedDockerClient();
  const progress = opts.onProgress ?? (() => {});
  const bundle = await buildBundle({
    ...(opts.bundleDir ? { outDir: opts.bundleDir } : {}),
    onProgress: progress,
  });
  const context = dirname(bundle.dir);
  const dockerfileName = `.Dockerfile.swerex-image-${process.pid}`;
  const dockerfile = [
    "FROM scratch",
    `COPY ${basename(bundle.dir)} ${BUNDLE_MOUNT_PATH}`,
    `LABEL ${LABEL_BUNDLE_BUILD_ID}=${bundle.buildId}`,
    "",
  ].join("\n");
  await writeFile(join(context, dockerfileName), dockerfile);
  progress(`building image ${tag} from ${bundle.dir}`);
  try {
    const stream = await docker.buildImage(
      { context, src: [dockerfileName, basename(bundle.dir)] },
      {
        t: tag,
        dockerfile: dockerfileName,
        rm: true,
        forcerm: true,
        abortSignal: AbortSignal.timeout(opts.timeoutMs ?? 600_000),
      },
    );
    await followProgress(docker, stream);
  } finally {
    await rm(join(context, dockerfileName), { force: true });
  }
  progress(`image ${tag} holds the runtime bundle at ${BUNDLE_MOUNT_PATH}`);
  return { tag, bundle };
}
