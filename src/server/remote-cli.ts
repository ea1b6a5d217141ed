/**
 * The `swerex-remote` command line (SWE-ReX 4.1): argument parsing, the "listening" line, and shutdown on
 * SIGTERM/SIGINT. `src/cli/swerex-remote.ts` is only the executable wrapper around `runRemoteCli`.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { redactingLoggerOptions } from "../log/index.js";
import { delay } from "../runtime/timer.js";
import { DEFAULT_LIMITS, LIMIT_SETTINGS, resolveLimits, type ServerLimits } from "./limits.js";
import { formatHttpUrl, startRuntimeServer } from "./start.js";
import { SWEREX_PROTOCOL_VERSION, SWEREX_TS_VERSION } from "./version.js";

const USAGE =
  "usage: swerex-remote [-h] [-v] [--host HOST] [--port PORT] --auth-token AUTH_TOKEN [--max-output N] [--max-sessions N]\n" +
  "                     [--max-body-bytes N] [--max-upload-bytes N] [--max-unzip-bytes N]";
const CLOSE_DEADLINE_MS = 10_000;

export interface RemoteCliArgs {
  host: string;
  port: number;
  authToken: string;
  limits: ServerLimits;
}

/** Parsed arguments, or the text and exit code to leave with (argparse's behaviour: usage errors exit 2). */
export function parseRemoteArgs(
  argv: string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): RemoteCliArgs | { exitCode: number; stdout?: string; stderr?: string } {
  if (argv.includes("-v") || argv.includes("--version")) {
    if (argv.length > 1)
      return { exitCode: 1, stdout: "Error: --version cannot be combined with other arguments" };
    return {
      exitCode: 0,
      stdout: `swerex-ts ${SWEREX_TS_VERSION} (SWE-ReX ${SWEREX_PROTOCOL_VERSION} protocol)`,
    };
  }
  let values: { host?: string; port?: string; "auth-token"?: string; help?: boolean } & Record<
    string,
    string | boolean | undefined
  >;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "auth-token": { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(LIMIT_SETTINGS.map((l) => [l.flag, { type: "string" as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { exitCode: 2, stderr: `${USAGE}\nswerex-remote: error: ${(err as Error).message}` };
  }
  if (values.help) {
    return {
      exitCode: 0,
      stdout: `${USAGE}\n\nRuns the SWE-ReX runtime server.\n\noptions:\n  -h, --help            show this help message and exit\n  -v, --version         show version and exit\n  --host HOST           address to listen on (default 0.0.0.0)\n  --port PORT           port to listen on, 0 = any free port (default 8000)\n  --auth-token AUTH_TOKEN\n                        expected X-API-Key; '' turns authentication off\n${LIMIT_SETTINGS.map(
        (l) =>
          `  --${l.flag} N`.padEnd(24) +
          `${l.help} (env ${l.env}; default ${DEFAULT_LIMITS[l.key]}; k/M/G suffixes)`,
      ).join("\n")}`,
    };
  }
  if (values["auth-token"] === undefined) {
    return {
      exitCode: 2,
      stderr: `${USAGE}\nswerex-remote: error: the following arguments are required: --auth-token`,
    };
  }
  const port = Number(values.port ?? "8000");
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (values.port ?? "8000").trim() === "") {
    return {
      exitCode: 2,
      stderr: `${USAGE}\nswerex-remote: error: argument --port: invalid int value: '${values.port}'`,
    };
  }
  const limitFlags: Record<string, string | undefined> = {};
  for (const l of LIMIT_SETTINGS) {
    const v = values[l.flag];
    if (typeof v === "string") limitFlags[l.flag] = v;
  }
  const limits = resolveLimits(limitFlags, env);
  if ("error" in limits) return { exitCode: 2, stderr: `${USAGE}\nswerex-remote: error: ${limits.error}` };
  return { host: values.host ?? "0.0.0.0", port, authToken: values["auth-token"], limits };
}

export async function runRemoteCli(argv: string[]): Promise<number | undefined> {
  const parsed = parseRemoteArgs(argv);
  if ("exitCode" in parsed) {
    if (parsed.stdout) process.stdout.write(`${parsed.stdout}\n`);
    if (parsed.stderr) process.stderr.write(`${parsed.stderr}\n`);
    return parsed.exitCode;
  }
  const logger = pino(
    { level: process.env.SWEREX_LOG_LEVEL ?? "info", ...redactingLoggerOptions() },
    pino.destination({ fd: 2, sync: true }),
  );
  const server = await startRuntimeServer({
    host: parsed.host,
    port: parsed.port,
    authToken: parsed.authToken,
    logger,
    runtimeLimits: { maxSessions: parsed.limits.maxSessions, maxOutput: parsed.limits.maxOutput },
    bodyLimitBytes: parsed.limits.maxBodyBytes,
    uploadLimitBytes: parsed.limits.maxUploadBytes,
    unzipLimitBytes: parsed.limits.maxUnzipBytes,
  });
  process.stdout.write(`swerex-remote listening on ${formatHttpUrl(parsed.host, server.port)}\n`);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "shutting down: closing sessions");
    // Closing the runtime kills every session's process group; the deadline keeps a stuck close from hanging us.
    const deadline = delay(CLOSE_DEADLINE_MS, { unref: true });
    Promise.race([server.close(), deadline])
      .catch((err: unknown) => logger.error({ err }, "error while closing"))
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return undefined;
}
