/**
 * `swerex reap [--dry-run] [--all] [--label KEY[=VALUE]]...`: removes the containers that swerex processes
 * left behind when they were killed (found by owner labels), and their session and execute temp
 * directories (found by owner markers). Without `--all`, only containers whose owner process on this host
 * is gone; temp directories always only when their owner is gone. One line per container or directory on
 * stdout.
 */
import { parseArgs } from "node:util";
import { reapContainers } from "../../deployment/docker/reap.js";
import { dockerUnreachableHint, engineMessage } from "../../docker/engine.js";
import { reapTempDirs } from "../../runtime/local/index.js";

export const description = "remove containers and temp directories left behind by killed swerex processes";

const USAGE = `Usage: swerex reap [--dry-run] [--all] [--label KEY[=VALUE]]...

Removes containers that a swerex process started and could not stop (it was SIGKILLed, or crashed), and
the temporary directories of its bash sessions and commands ($TMPDIR/swerex-*, $TMPDIR/swerex-exec-*)
once the process that made them is gone (a live process's directories are never touched).
Containers kept with remove_container=false are stopped, not removed.

Flags:
  --dry-run            list what would be removed, change nothing
  --all                every swerex container, even those whose owner is still running
  --label KEY[=VALUE]  only containers that also carry this label (repeatable)
`;

export async function run(argv: string[]): Promise<number> {
  let values: { "dry-run"?: boolean; all?: boolean; label?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "dry-run": { type: "boolean" },
        all: { type: "boolean" },
        label: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`swerex reap: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dryRun = values["dry-run"] ?? false;
  let failed = 0;
  // Temp directories first: they need no engine, so an unreachable Docker does not keep them around.
  if (!values.label?.length) {
    const dirs = await reapTempDirs({ dryRun });
    for (const d of dirs) {
      if (d.action === "failed") failed++;
      const verb = dryRun ? "would remove" : d.action;
      process.stdout.write(`${verb} ${d.path} owner=${d.pid} (dead)${d.error ? ` (${d.error})` : ""}\n`);
    }
    process.stderr.write(
      `swerex reap: ${dirs.length} temp director${dirs.length === 1 ? "y" : "ies"}${dryRun ? " found (dry run)" : ""}\n`,
    );
  }
  let reaped: Awaited<ReturnType<typeof reapContainers>>;
  try {
    reaped = await reapContainers({ all: values.all ?? false, dryRun, labels: values.label ?? [] });
  } catch (err) {
    process.stderr.write(
      `swerex reap: cannot list containers: ${engineMessage(err)}\n${dockerUnreachableHint(err)}`,
    );
    return 1;
  }
  for (const c of reaped) {
    const verb = dryRun ? `would ${c.action === "stopped" ? "stop" : "remove"}` : c.action;
    if (c.action === "failed") failed++;
    const why = c.error ? ` (${c.error})` : "";
    process.stdout.write(
      `${verb} ${c.name} ${c.id.slice(0, 12)} image=${c.image} state=${c.state} owner=${c.owner} (${c.ownerState})${why}\n`,
    );
  }
  process.stderr.write(`swerex reap: ${reaped.length} container(s)${dryRun ? " found (dry run)" : ""}\n`);
  return failed > 0 ? 1 : 0;
}
