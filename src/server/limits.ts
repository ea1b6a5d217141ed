/**
 * The resource limits of `swerex-remote` (issue 13): each one a command-line flag, an environment variable
 * used when the flag is absent, and a default. Sizes accept a k/M/G suffix (powers of 1024).
 */
import { DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_MAX_SESSIONS } from "../runtime/local/index.js";

export interface ServerLimits {
  /** Output kept per action: characters of a session command, bytes of each `execute` stream. */
  maxOutput: number;
  /** Bash sessions open at once. */
  maxSessions: number;
  /** Largest JSON body (413 above it). */
  maxBodyBytes: number;
  /** Largest uploaded file (413 above it). */
  maxUploadBytes: number;
  /** Largest total size an uploaded zip may inflate to (the upload fails above it, nothing is left). */
  maxUnzipBytes: number;
}

const MIB = 1024 * 1024;

export const DEFAULT_LIMITS: ServerLimits = {
  maxOutput: DEFAULT_MAX_OUTPUT_CHARS,
  maxSessions: DEFAULT_MAX_SESSIONS,
  maxBodyBytes: 256 * MIB,
  maxUploadBytes: 1024 * MIB,
  maxUnzipBytes: 4096 * MIB,
};

/** Each limit's flag (without `--`) and environment variable. */
export const LIMIT_SETTINGS: readonly { key: keyof ServerLimits; flag: string; env: string; help: string }[] =
  [
    { key: "maxOutput", flag: "max-output", env: "SWEREX_MAX_OUTPUT", help: "output kept per command" },
    {
      key: "maxSessions",
      flag: "max-sessions",
      env: "SWEREX_MAX_SESSIONS",
      help: "bash sessions open at once",
    },
    { key: "maxBodyBytes", flag: "max-body-bytes", env: "SWEREX_MAX_BODY_BYTES", help: "largest JSON body" },
    {
      key: "maxUploadBytes",
      flag: "max-upload-bytes",
      env: "SWEREX_MAX_UPLOAD_BYTES",
      help: "largest upload",
    },
    {
      key: "maxUnzipBytes",
      flag: "max-unzip-bytes",
      env: "SWEREX_MAX_UNZIP_BYTES",
      help: "largest inflated size of an uploaded zip",
    },
  ];

const SUFFIX: Record<string, number> = { "": 1, k: 1024, m: MIB, g: 1024 * MIB };

/** A positive size like `4096`, `64k`, `4M`, `2G`; undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * (SUFFIX[(m[2] ?? "").toLowerCase()] ?? 1);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The limits from flags (by flag name) and environment; an error names the bad flag or variable. */
export function resolveLimits(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServerLimits | { error: string } {
  const limits = { ...DEFAULT_LIMITS };
  for (const s of LIMIT_SETTINGS) {
    const fromFlag = flags[s.flag];
    const raw = fromFlag ?? env[s.env];
    if (raw === undefined || raw === "") continue;
    const value = parseSize(raw);
    if (value === undefined) {
      const where = fromFlag !== undefined ? `argument --${s.flag}` : `environment variable ${s.env}`;
      return { error: `${where}: invalid size: '${raw}' (a positive integer, optionally with k, M or G)` };
    }
    limits[s.key] = value;
  }
  return limits;
}
