/**
 * `swerex reap [--dry-run] [--all] [--label KEY[=VALUE]]...`: removes the containers that swerex processes
 * left behind when they were killed (found by owner labels). Without `--all`, only containers whose owner
 * process on this host is gone. One line per container on stdout.
 */
import { parseArgs } from "node:util";
import { reapContainers } from "../../deployment/docker/reap.js";
import { engineMessage } from "../../docker/engine.js";

export const description = "remove Docker containers left behind by killed swerex processes";

const USAGE = `Usage: swerex reap [--dry-run] [--all] [--label KEY[=VALUE]]...

Removes containers that a swerex process started and could not stop (it was SIGKILLed, or crashed).
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
  let reaped: Awaited<ReturnType<typeof reapContainers>>;
  try {
    reaped = await reapContainers({ all: values.all ?? false, dryRun, labels: values.label ?? [] });
  } catch (err) {
    process.stderr.write(
      `swerex reap: cannot list containers: ${engineMessage(err)} (is DOCKER_HOST right?)\n`,
    );
    return 1;
  }
  let failed = 0;
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
