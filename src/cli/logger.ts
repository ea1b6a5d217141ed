/**
 * The one logger every `swerex` command writes its status lines and diagnostics through: pretty, coloured
 * lines on a terminal (pino-pretty), one JSON object per line otherwise (files, pipes, CI), always on
 * stderr (stdout is the command's own output), filtered by `--log_level` / `SWEREX_LOG_LEVEL`.
 * Set `SWEREX_LOG_FORMAT=json` or `=pretty` to choose regardless of the terminal.
 */
import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import { redactingLoggerOptions } from "../log/index.js";

export type LogFormat = "pretty" | "json";

export interface CliLoggerOptions {
  /** Which command logs ("swerex run"): pretty lines start with it, JSON lines carry it as `name`. */
  name: string;
  level: string;
  /** Default: process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: Readonly<Record<string, string | undefined>>;
  /** More pino options (redaction paths, serializers). */
  options?: pino.LoggerOptions;
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
  // Secrets (tokens, keys, auth headers) are redacted in every command's logs.
  const base = { ...redactingLoggerOptions(), ...opts.options, level: opts.level, base: { name: opts.name } };
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
