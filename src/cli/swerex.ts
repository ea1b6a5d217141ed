#!/usr/bin/env node
/**
 * `swerex <command> [flags]`: the subcommand dispatcher. Each command is a module in `commands/` exporting
 * `run(argv, ctx?): Promise<number>` (the exit code) and a one-line `description`; modules load lazily so a
 * command pays only for its own imports. To add a command, add one line to COMMANDS.
 */
import { createRequire } from "node:module";
import { describeActiveDeployments, stopAllDeployments } from "../deployment/registry.js";
import type { CommandContext } from "./context.js";

interface CommandModule {
  description: string;
  run(argv: string[], ctx?: CommandContext): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  run: () => import("./commands/run.js"),
  proxy: () => import("./commands/proxy.js"),
  reap: () => import("./commands/reap.js"),
  bundle: () => import("./commands/bundle.js"),
  "ags-emulator": () => import("./commands/ags-emulator.js"),
  ags: () => import("./commands/ags.js"),
  "run-batch": () => import("./commands/run-batch.js"),
  "prepare-data": () => import("./commands/prepare-data.js"),
  sandbox: () => import("./commands/sandbox.js"),
  serve: () => import("./commands/serve.js"),
};

/** Exit statuses of the dispatcher itself (a command returns its own). */
const USAGE_ERROR = 2;
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function version(): string {
  // package.json sits two levels up from both src/cli/ and dist/cli/.
  const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
  return pkg.version;
}

async function help(): Promise<string> {
  const names = Object.keys(COMMANDS).sort();
  const width = Math.max(...names.map((n) => n.length));
  const lines = await Promise.all(
    names.map(async (name) => {
      const description = await (COMMANDS[name] as () => Promise<CommandModule>)().then(
        (m) => m.description,
        (err: unknown) => `(cannot load: ${(err as Error).message})`,
      );
      return `  ${name.padEnd(width)}  ${description}`;
    }),
  );
  return [
    "Usage: swerex <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Options:",
    "  -h, --help     show this help (swerex <command> --help for a command's flags)",
    "  -v, --version  print the version",
    "",
    "Configuration: flags > SWEREX_* env vars > --config file (YAML/JSON) > defaults; see docs/configuration.md.",
    "",
  ].join("\n");
}

/** Stops every registered deployment on the first SIGINT/SIGTERM, then exits 130/143; a second signal exits at once. */
function installSignalHandlers(controller: AbortController): {
  uninstall(): void;
  exitCode(): number | undefined;
} {
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = SIGNAL_EXIT[signal] ?? 1;
    if (received) {
      // Clean-up is abandoned: say what it would have removed, and how to remove it later.
      const left = describeActiveDeployments();
      process.stderr.write(
        left.length > 0
          ? `swerex: second ${signal}: exiting without finishing clean-up; left behind:\n${left.map((l) => `  ${l}\n`).join("")}` +
              "swerex: run `swerex reap` to remove them (containers and temp directories of dead swerex processes)\n"
          : `swerex: second ${signal}: exiting now\n`,
      );
      process.exit(code);
    }
    received = signal;
    process.stderr.write(`swerex: ${signal} received, stopping deployments (again to exit now)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
    void stopAllDeployments().finally(() => process.exit(code));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    uninstall() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
    /** Set once a signal came: the command may have ended because its deployment was stopped under it. */
    exitCode: () => (received ? (SIGNAL_EXIT[received] ?? 1) : undefined),
  };
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(await help());
    return 0;
  }
  if (name === "-v" || name === "--version" || name === "version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (name === undefined) {
    process.stderr.write(await help());
    return USAGE_ERROR;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(
      `swerex: unknown command "${name}"; commands: ${Object.keys(COMMANDS).sort().join(", ")} (swerex --help)\n`,
    );
    return USAGE_ERROR;
  }
  const command = await load();
  const controller = new AbortController();
  const signals = installSignalHandlers(controller);
  try {
    const code = await command.run(rest, { signal: controller.signal });
    return signals.exitCode() ?? code;
  } finally {
    signals.uninstall();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly (runtimes may hold sockets or ptys open), once stdout has drained.
    process.stdout.write("", () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`swerex: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
