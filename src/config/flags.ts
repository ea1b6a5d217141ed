/**
 * The dotted command-line flag parser: `--instances.deployment.image=python:3.11` becomes
 * `{instances: {deployment: {image: "python:3.11"}}}`, the shape SWE-agent's YAML and flags share.
 */
import { ConfigError, type ConfigIssue } from "./errors.js";
import { type ConfigTree, isForbiddenKey, parseValue, setPath } from "./values.js";

export interface FlagEntry {
  /** Dotted key as written, without dashes: `instances.deployment.image`. */
  key: string;
  path: string[];
  value: unknown;
  /** The flag as the user typed it (for error messages): `--instances.deployment.image`. */
  flag: string;
}

export interface ParsedFlags {
  /** The flags as one nested object. A repeated flag keeps its last value. */
  values: ConfigTree;
  /** Every flag in order, repeats included, for commands that want to collect them. */
  entries: FlagEntry[];
  /** Arguments that are not flags, before `--`. */
  positionals: string[];
  /** Everything after the first `--`, untouched. */
  rest: string[];
}

/**
 * Parses `argv` (without node, script and subcommand).
 *
 * - `--a.b=v` and `--a.b v` set `a.b`; `v` is decoded by {@link parseValue} (JSON when it is JSON, else the string).
 * - `--flag` followed by another flag (or nothing) is `true`; `--no-flag` is `false`.
 * - `-h` is `help: true`; other one-letter flags `-x` are `x: true`.
 * - `--` ends flag parsing: the rest goes to `rest` (e.g. the command of `swerex run`).
 *
 * Throws {@link ConfigError} for an empty key segment, a key that reaches `Object.prototype`, or a flag that
 * sets both a value and a key below it (`--a=1 --a.b=2`).
 */
export function parseDottedFlags(argv: readonly string[]): ParsedFlags {
  const entries: FlagEntry[] = [];
  const positionals: string[] = [];
  const issues: ConfigIssue[] = [];
  let rest: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      let key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      let value: unknown;
      if (eq !== -1) {
        value = parseValue(arg.slice(eq + 1));
      } else if (key.startsWith("no-")) {
        key = key.slice(3);
        value = false;
      } else {
        const next = argv[i + 1];
        if (next !== undefined && !next.startsWith("--")) {
          value = parseValue(next);
          i++;
        } else {
          value = true;
        }
      }
      const flag = `--${key}`;
      const path = key.split(".");
      const bad = path.find((seg) => seg === "" || isForbiddenKey(seg));
      if (bad !== undefined) {
        issues.push({
          where: arg,
          message: bad === "" ? "empty key segment; write --a.b=value" : `"${bad}" is not allowed as a key`,
        });
        continue;
      }
      entries.push({ key, path, value, flag });
    } else if (/^-[A-Za-z]$/.test(arg)) {
      const key = arg === "-h" ? "help" : arg.slice(1);
      entries.push({ key, path: [key], value: true, flag: arg });
    } else {
      positionals.push(arg);
    }
  }

  const values: ConfigTree = {};
  for (const e of entries) {
    const blocked = setPath(values, e.path, e.value);
    if (blocked) {
      issues.push({
        where: e.flag,
        message: `conflicts with --${blocked.join(".")}, which is not an object`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { values, entries, positionals, rest };
}
