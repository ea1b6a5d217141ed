/**
 * `npm run build:bundle [-- --force] [-- --out DIR]`: builds the runtime bundle (build/bundle/swerex by default).
 * Same as `swerex bundle build`.
 */
import { run } from "../src/cli/commands/bundle.js";

process.exitCode = await run(["build", ...process.argv.slice(2)]);
