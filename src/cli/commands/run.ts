/**
 * `swerex run [--instances.deployment.<key>=<value>...] [--timeout S] -- 'command'`: starts a deployment, runs
 * the command in a fresh bash session, streams the session's output to stdout exactly as produced, stops the
 * deployment and exits with the command's exit code.
 *
 * Streaming works with any runtime (local, remote, docker, AGS), through the plain SWE-ReX protocol: the
 * command runs as a background job of the session's shell (job control off, so no job notices; stdin is
 * /dev/null; stdout/stderr still the session's terminal), and short polling actions, each of which waits at
 * most POLL_S while the job runs, return what it printed meanwhile. The last one, `wait`, returns its exit
 * status. Status lines go through the logger (pretty on a terminal, JSON otherwise), never to stdout.
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
import type { Runtime } from "../../runtime/index.js";
import { createCliLogger } from "../logger.js";

export const description = "start a deployment, run one command in a bash session, print its output, stop";

/** Exit statuses of `swerex run` when the command itself did not decide (see docs/cli.md). */
export const EXIT = { usage: 2, timeout: 124, failure: 125 } as const;

const SESSION = "swerex-run";
/** How long one polling action waits while the command runs: the latency of streamed output. */
const POLL_S = 0.2;
/** Bound on one polling action's round trip (a sandbox may be slow, but not this slow). */
const POLL_ACTION_TIMEOUT_S = 60;
/** The shell variable holding the background command's pid. */
const PID_VAR = "SWEREX_RUN_PID";

const RunOptions = z.strictObject({
  /** Seconds the command may run; null: no limit. */
  timeout: z.number().positive().nullable().default(null),
  /** Seconds the bash session may take to start (the shell reads its startup files). */
  session_startup_timeout: z.number().positive().default(60),
});

const USAGE = `Usage: swerex run [flags] -- 'command'

Starts a deployment, runs the command in a bash session (in a subshell, so 'exit N' works; stdin is
/dev/null), streams its output as it comes (stdout and stderr as one stream, as a terminal shows them),
stops the deployment and exits with the command's exit code. Status lines go to stderr through the log
(pretty on a terminal, JSON lines otherwise; SWEREX_LOG_FORMAT=json|pretty to choose).

Flags:
  --instances.deployment.<key>=<value>  deployment config, e.g. --instances.deployment.type=local
                                        (keys and defaults: docs/configuration.md)
  --timeout <seconds>                   limit for the command (default: none); exit 124 when reached
  --session_startup_timeout <seconds>   limit for the bash session to start (default: 60)
  --deployment_type <type>              type used when instances.deployment.type is not set (default: docker)
  --config <file.yaml|json>             config file (flags > SWEREX_* env vars > file > defaults)
  --log_level <level>                   trace|debug|info|warn|error|fatal|silent (default: info; warn and
                                        above hide the status lines on stderr)

Exit status: the command's; 2 bad usage or config; 124 timeout (what the command printed until then is
on stdout); 125 the deployment or runtime failed; 130/143 interrupted by SIGINT/SIGTERM (the deployment is
stopped first; a second Ctrl-C exits at once and names what it left for 'swerex reap').

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
  let logLevel: string;
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
    logLevel = config.settings.log_level;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr.write(`swerex run: ${err.message.replaceAll("\n", "\nswerex run: ")}\n`);
    return EXIT.usage;
  }

  const log = createCliLogger({ name: "swerex run", level: logLevel, stream: stderr, env: ctx.env });
  deployment.on("status", (step) => log.info(step));
  deployment.on("progress", (message) => log.info(message));
  registerDeployment(deployment);
  const started = Date.now();
  try {
    await deployment.start({ signal: ctx.signal });
    const runtime = deployment.runtime;
    await runtime.createSession({ session: SESSION, startup_timeout: options.session_startup_timeout });
    const code = await streamCommand(runtime, command, {
      deadline: options.timeout === null ? null : started + options.timeout * 1000,
      write: (text) => stdout.write(text),
      signal: ctx.signal,
    });
    if (code === "timeout") {
      log.error(`the command did not finish within ${options.timeout}s`);
      return EXIT.timeout;
    }
    if (code === null) {
      log.error("the command's exit code could not be determined");
      return EXIT.failure;
    }
    return code;
  } catch (err) {
    // Stopping the deployment under a running command ends it with an EOF; the signal is the real cause.
    if (ctx.signal?.aborted) {
      log.warn(`${(ctx.signal.reason as Error)?.message ?? "interrupted"}`);
      return EXIT.failure;
    }
    log.error((err as Error)?.message ?? String(err));
    return EXIT.failure;
  } finally {
    log.info("Stopping deployment");
    await deployment.stop().catch((err: unknown) => {
      log.error(`stopping the deployment failed: ${(err as Error)?.message ?? String(err)}`);
    });
    unregisterDeployment(deployment);
  }
}

/**
 * Runs `command` as a background job of the session and writes its output as it comes; resolves with its
 * exit code, null when unknown, or "timeout" once `deadline` (ms since the epoch) has passed.
 */
async function streamCommand(
  runtime: Runtime,
  command: string,
  opts: { deadline: number | null; write(text: string): void; signal?: AbortSignal },
): Promise<number | null | "timeout"> {
  const act = (cmd: string) =>
    runtime.runInSession({ session: SESSION, command: cmd, timeout: POLL_ACTION_TIMEOUT_S, check: "silent" });
  // A subshell, so that `exit N` ends the command with N instead of killing the session's shell. The
  // job's stderr goes to the terminal through fd 9, while the shell's own "[1] 1234" goes to /dev/null.
  const first = await act(
    `set +m; exec 9>&2; { (\n${command}\n) 2>&9 9>&- & } 2>/dev/null; exec 9>&-; ${PID_VAR}=$!`,
  );
  opts.write(first.output);
  for (;;) {
    opts.signal?.throwIfAborted();
    if (opts.deadline !== null && Date.now() >= opts.deadline) return "timeout";
    // Exit code 0 while the job runs (it slept), 1 once it is gone.
    const poll = await act(`builtin kill -0 $${PID_VAR} 2>/dev/null && sleep ${POLL_S}`);
    opts.write(poll.output);
    if (poll.exit_code !== 0) break;
  }
  const done = await act(`builtin wait $${PID_VAR}`);
  opts.write(done.output);
  return done.exit_code;
}
