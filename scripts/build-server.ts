/**
 * Part of `npm run build`: bundles swerex-remote with esbuild into dist/bundle/server.mjs, so that an
 * installed package (which has neither src/ nor esbuild, a dev dependency) can still assemble its runtime
 * bundle for Docker and AGS (src/bundle/build.ts reads this file when there are no sources).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bundleServer, PREBUILT_SERVER } from "../src/bundle/build.js";
import { packageRoot } from "../src/bundle/paths.js";

const root = packageRoot();
const out = join(root, PREBUILT_SERVER);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, await bundleServer(join(root, "src", "cli", "swerex-remote.ts")));
process.stdout.write(`wrote ${PREBUILT_SERVER}\n`);
