/**
 * `swerex bundle build [--out DIR] [--force]` and `swerex bundle image [--tag swerex-runtime:latest]`: the
 * self-contained runtime bundle (run-swerex + node + libraries + node-pty + server) and the image that holds
 * it under /nix/swerex (what AGS mounts). Progress goes to the log on stderr (pretty on a terminal, JSON
 * otherwise; level from SWEREX_LOG_LEVEL); the result (a path or a tag) to stdout.
 */
import { parseArgs } from "node:util";
import { buildBundle } from "../../bundle/build.js";
import { buildBundleImage, DEFAULT_BUNDLE_IMAGE_TAG } from "../../bundle/image.js";
import { LAUNCHER_NAME } from "../../bundle/paths.js";
import { dockerUnreachableHint, engineMessage } from "../../docker/engine.js";
import { createCliLogger } from "../logger.js";

export const description = "build the runtime bundle (bundle build) or an image holding it (bundle image)";

const USAGE = `Usage: swerex bundle build [--out DIR] [--force]
       swerex bundle image [--tag ${DEFAULT_BUNDLE_IMAGE_TAG}] [--out DIR]

build   writes the runtime bundle (default build/bundle/swerex): run-swerex starts swerex-remote in any
        x86-64 Linux image without installing anything. Up-to-date bundles are not rebuilt (--force does).
image   builds a local Docker image (FROM scratch) with the bundle at /nix/swerex: mount it on AGS
        (mount_image, image_subpath) or COPY --from it.
`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  let values: { out?: string; force?: boolean; tag?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        out: { type: "string" },
        force: { type: "boolean" },
        tag: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`swerex bundle: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (sub === "-h" || sub === "--help" || values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = createCliLogger({ name: "swerex bundle", level: process.env.SWEREX_LOG_LEVEL ?? "info" });
  const progress = (m: string) => log.info(m);
  try {
    if (sub === "build") {
      const info = await buildBundle({
        ...(values.out ? { outDir: values.out } : {}),
        force: values.force ?? false,
        onProgress: progress,
      });
      if (!info.built) progress(`up to date (${info.buildId})`);
      process.stdout.write(`${info.dir}/${LAUNCHER_NAME}\n`);
      return 0;
    }
    if (sub === "image") {
      const image = await buildBundleImage({
        ...(values.tag ? { tag: values.tag } : {}),
        ...(values.out ? { bundleDir: values.out } : {}),
        onProgress: progress,
      });
      process.stdout.write(`${image.tag}\n`);
      return 0;
    }
  } catch (err) {
    log.error(`swerex bundle ${sub}: ${engineMessage(err)}`);
    const hint = dockerUnreachableHint(err);
    if (hint) log.error(hint.trimEnd());
    return 1;
  }
  process.stderr.write(
    `swerex bundle: expected 'build' or 'image', got ${sub === undefined ? "nothing" : `'${sub}'`}\n${USAGE}`,
  );
  return 2;
}
