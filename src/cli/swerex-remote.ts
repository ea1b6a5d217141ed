#!/usr/bin/env node
/**
 * `swerex-remote [--host 0.0.0.0] [--port 8000] --auth-token TOKEN [-v|--version]`: the in-sandbox runtime
 * server. Self-contained so that esbuild can bundle it into one file: the version is compiled in and nothing
 * is read relative to this module at run time.
 */
import { runRemoteCli } from "../server/remote-cli.js";

runRemoteCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`swerex-remote: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
