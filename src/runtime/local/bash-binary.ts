/**
 * Which bash runs sessions and the `bash -n` check: `$SWEREX_BASH` when set (the Docker runtime bundle ships
 * its own bash for images that have none), else the first `bash` on `PATH`, like upstream's `/usr/bin/env bash`.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export function findBash(env: NodeJS.ProcessEnv = process.env): string {
  const forced = env.SWEREX_BASH;
  if (forced) return forced;
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "bash");
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new Error("bash not found on PATH (set SWEREX_BASH to the bash binary to use)");
}
