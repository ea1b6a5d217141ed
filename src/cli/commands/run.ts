/**
 * `swerex run [--instances.deployment.<key>=<value>...] [--timeout S] -- 'command'`: starts a deployment, runs
 * the command in a fresh bash session, prints the session's output to stdout exactly as produced, stops the
 * deployment and exits with the command's exit code.
 */
import { z } from "zod";
import { ConfigError, loadConfig, parseDottedFlags, zodIssues } from "../../config/index.js";
import {
  type Deployment,
  getDeployment,
  parseDeploymentConfig,
  registerDeployment,
  unregisterDeployment,
} from "../../deployment/index.js";
import { CommandTimeoutError } from "../../runtime/index.js";

export const description = "start a deployment, run one command in a bash session, print its output, stop";

/** Exit statuses of `swerex run` when the command itself did not decide (see docs/cli.md). */
export const EXIT = { usage: 2, timeout: 124, failure: 125 } as const;

const SESSION = "swerex-run";

const RunOptions = z.strictObject({
  /** Seconds the command may run; null: no limit. */
  timeout: z.number().positive().nullable().default(null),
  /** Seconds the bash session may take to start (the shell reads its startup files). */
  session_startup_timeout: z.number().positive().default(60),
});

const USAGE = `Usage: swerex run [flags] -- 'command'

Starts a deployment, runs the command in a bash session (in a subshell, so 'exit N' works), prints its
output (stdout and stderr as one stream, as a terminal shows them), stops the deployment and exits with
the command's exit code.

Flags:
  --instances.deployment.<key>=<value>  deployment config, e.g. --instances.deployment.type=local
                                        (keys and defaults: docs/configuration.md)
  --timeout <seconds>                   limit for the command (default: none); exit 124 when reached
  --session_startup_timeout <seconds>   limit for the bash session to start (default: 60)
  --deployment_type <type>              type used when instances.deployment.type is not set (default: docker)
  --config <file.yaml|json>             config file (flags > SWEREX_* env vars > file > defaults)
  --log_level <level>                   trace|debug|info|warn|error|fatal|silent (default: info; warn and
                                        above hide the progress lines on stderr)

Exit status: the command's; 2 bad usage or config; 124 timeout; 125 the deployment or runtime failed;
130/143 interrupted by SIGINT/SIGTERM (the deployment is stopped first).

Example:
  swerex run --instances.deployment.type=local -- 'echo hi; exit 3'
`;

export interface RunContext {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export async function run(argv: string[], ctx: RunContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  let deployment: Deployment;
  let command: string;
  let options: z.infer<typeof RunOptions>;
  let quiet: boolean;
  try {
    const flags = parseDottedFlags(argv);
    if (flags.values.help === true) {
      stdout.write(USAGE);
      return 0;
    }
    const config = loadConfig({
      argv: flags,
      env: ctx.env,
      accept: ["instances.deployment", ...Object.keys(RunOptions.shape)],
    });
    // Only run's own keys: a shared config file may hold other commands' trees too.
    const own = Object.fromEntries(Object.keys(RunOptions.shape).map((k) => [k, config.values[k]]));
    const parsed = RunOptions.safeParse(own);
    if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, { input: own, where: config.where }));
    options = parsed.data;
    command = (config.rest.length > 0 ? config.rest : config.positionals).join(" ");
    if (command.trim() === "") {
      stderr.write(`swerex run: no command given\n\n${USAGE}`);
      return EXIT.usage;
    }
    const deploymentConfig = parseDeploymentConfig(config.get("instances.deployment") ?? {}, {
      defaultType: config.settings.deployment_type,
      where: (p) => config.where(["instances", "deployment", ...p]),
    });
    deployment = getDeployment(deploymentConfig);
    quiet = !["trace", "debug", "info"].includes(config.settings.log_level);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr.write(`swerex run: ${err.message.replaceAll("\n", "\nswerex run: ")}\n`);
    return EXIT.usage;
  }

  if (!quiet) deployment.on("status", (step) => stderr.write(`swerex: ${step}\n`));
  registerDeployment(deployment);
  try {
    await deployment.start({ signal: ctx.signal });
    const runtime = deployment.runtime;
    await runtime.createSession({ session: SESSION, startup_timeout: options.session_startup_timeout });
    const obs = await runtime.runInSession({
      session: SESSION,
      // A subshell, so that `exit N` ends the command with N instead of killing the session's shell.
      command: `(\n${command}\n)`,
      timeout: options.timeout,
      check: "silent",
    });
    stdout.write(obs.output);
    if (obs.exit_code === null) {
      stderr.write("swerex run: the command's exit code could not be determined\n");
      return EXIT.failure;
    }
    return obs.exit_code;
  } catch (err) {
    if (err instanceof CommandTimeoutError) {
      stderr.write(`swerex run: the command did not finish within ${options.timeout}s\n`);
      return EXIT.timeout;
    }
    stderr.write(`swerex run: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.failure;
  } finally {
    if (!quiet) stderr.write("swerex: Stopping deployment\n");
    await deployment.stop().catch((err: unknown) => {
      stderr.write(`swerex run: stopping the deployment failed: ${(err as Error)?.message ?? String(err)}\n`);
    });
    unregisterDeployment(deployment);
  }
}
