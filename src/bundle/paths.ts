/** Where the runtime bundle lives on the host and inside sandboxes. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Inside a sandbox the bundle sits here (Docker bind mount; AGS image mount `/nix` + `image_subpath`). */
export const BUNDLE_MOUNT_PATH = "/nix/swerex";
/** The launcher's name at the top of the bundle. */
export const LAUNCHER_NAME = "run-swerex";
/** File at the top of the bundle naming its build, so an up-to-date bundle is not rebuilt. */
export const BUILD_ID_FILE = "BUILD-ID";

/** The package's root (the directory with package.json), from `src/bundle` or `dist/bundle` alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error("cannot find the swerex-ts package root (no package.json above the bundle module)");
    dir = parent;
  }
}

/** `build/bundle/swerex` under the package root: what `npm run build:bundle` writes. */
export function defaultBundleDir(): string {
  return join(packageRoot(), "build", "bundle", "swerex");
}
