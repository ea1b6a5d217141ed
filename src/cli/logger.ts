/**
 * The one logger every `swerex` command writes its status lines and diagnostics through: pretty, coloured
 * lines on a terminal (pino-pretty), one JSON object per line otherwise (files, pipes, CI), always on
 * stderr (stdout is the command's own output), filtered by `--log_level` / `SWEREX_LOG_LEVEL`.
 * Set `SWEREX_LOG_FORMAT=json` or `=pretty` to choose regardless of the terminal.
 */
import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type LogFormat = "pretty" | "json";

export interface CliLoggerOptions {
  /** Which command logs ("swerex run"): pretty lines start with it, JSON lines carry it as `name`. */
  name: string;
  level: string;
  /** Default: process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: Readonly<Record<string, string | undefined>>;
}

/** Pretty on a terminal, JSON otherwise, unless SWEREX_LOG_FORMAT says which. */
export function logFormat(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): LogFormat {
  const forced = env.SWEREX_LOG_FORMAT;
  if (forced === "json" || forced === "pretty") return forced;
  return stream.isTTY ? "pretty" : "json";
}

export function createCliLogger(opts: CliLoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  // No pid/hostname: a CLI's lines are read by a person, or by a log collector that knows the host.
  const base = { level: opts.level, base: { name: opts.name } };
  if (logFormat(stream, opts.env) === "json") {
    // Written synchronously: a status line must be out before a signal ends the process.
    return stream === process.stderr
      ? pino(base, pino.destination({ fd: 2, sync: true }))
      : pino(base, stream as pino.DestinationStream);
  }
  return pino(
    base,
    pretty({
      destination: stream === process.stderr ? 2 : stream,
      sync: true,
      colorize: Boolean(stream.isTTY),
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname",
    }),
  );
}
