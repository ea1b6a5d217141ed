/**
 * The AGS room's logger. Redaction is the second line of defence: code here never logs a SecretKey or a
 * sandbox token on purpose, and these paths blank them should one end up in a logged object anyway.
 */
import { type Logger, pino } from "pino";
import { redactingLoggerOptions } from "../../log/index.js";

export const AGS_REDACT_PATHS = [
  "secretKey",
  "secret_key",
  "SecretKey",
  "token",
  "Token",
  "TrafficToken",
  "agsToken",
  "authorization",
  "Authorization",
  "*.secretKey",
  "*.secret_key",
  "*.SecretKey",
  "*.token",
  "*.Token",
  "*.TrafficToken",
  "*.authorization",
  "*.Authorization",
  'headers["x-access-token"]',
  'headers["X-Access-Token"]',
  'headers["x-api-key"]',
  'headers["X-API-Key"]',
  '*.headers["x-access-token"]',
  '*.headers["X-Access-Token"]',
  '*.headers["x-api-key"]',
  '*.headers["X-API-Key"]',
];

/** A pino logger with the AGS redaction rules; `destination` lets tests capture the output. */
export function createAgsLogger(destination?: pino.DestinationStream, level?: string): Logger {
  const opts = {
    name: "swerex.ags",
    level: level ?? process.env.SWEREX_LOG_LEVEL ?? "warn",
    ...redactingLoggerOptions(AGS_REDACT_PATHS),
  };
  return destination ? pino(opts, destination) : pino(opts, pino.destination(2));
}

let defaultLogger: Logger | undefined;

/** The process-wide AGS logger (stderr; level from SWEREX_LOG_LEVEL, default warn), created on first use. */
export function agsLogger(): Logger {
  defaultLogger ??= createAgsLogger();
  return defaultLogger;
}
