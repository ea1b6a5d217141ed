/**
 * zod validation errors as {@link ConfigIssue}s a user can act on: each names the flag (or env var, or file
 * key) and what it accepts, e.g. `--instances.deployment.pull: expected one of never|always|missing, got "sometimes"`.
 */
import type { z } from "zod";
import type { ConfigIssue } from "./errors.js";

/** Names a path of the validated object the way the user set it (see `LoadedConfig.where`). */
export type WhereFn = (path: readonly string[]) => string;

export interface IssueContext {
  /** The object that was validated (to quote bad values). */
  input: unknown;
  where: WhereFn;
  /** Keys the object accepts, listed when it got an unknown one. */
  acceptedKeys?: readonly string[];
  /** Says whose keys these are, e.g. `deployment type "local"`. */
  owner?: string;
}

export function zodIssues(error: z.ZodError, ctx: IssueContext): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    const path = issue.path.map(String);
    const value = valueAt(ctx.input, path);
    switch (issue.code) {
      case "unrecognized_keys":
        return issue.keys.map((key) => ({
          where: ctx.where([...path, key]),
          message: `unknown key${ctx.owner ? ` for ${ctx.owner}` : ""}${
            ctx.acceptedKeys && path.length === 0 ? `; accepted keys: ${ctx.acceptedKeys.join(", ")}` : ""
          }`,
        }));
      case "invalid_value":
        return [{ where: ctx.where(path), message: `${expectedValues(issue.values)}, got ${show(value)}` }];
      case "invalid_union":
        if ("options" in issue && Array.isArray(issue.options)) {
          return [
            { where: ctx.where(path), message: `${expectedValues(issue.options)}, got ${show(value)}` },
          ];
        }
        return [{ where: ctx.where(path), message: `${issue.message}, got ${show(value)}` }];
      case "invalid_type":
        return [
          {
            where: ctx.where(path),
            message:
              value === undefined
                ? `required (${issue.expected})`
                : `expected ${issue.expected}, got ${show(value)}`,
          },
        ];
      default:
        return [
          {
            where: ctx.where(path),
            message: `${issue.message.replace(/^Invalid input: /, "")}${value === undefined ? "" : `, got ${show(value)}`}`,
          },
        ];
    }
  });
}

function expectedValues(values: readonly unknown[]): string {
  if (values.length === 1) return `expected ${JSON.stringify(values[0])}`;
  return `expected one of ${values.map(String).join("|")}`;
}

/** A value quoted for an error message, short enough for one line. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The schema under wrappers that do not change what kind of value is accepted. */
function baseSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (
      def.innerType &&
      ["default", "prefault", "optional", "nullable", "readonly", "catch"].includes(def.type)
    ) {
      s = def.innerType;
    } else if (def.type === "pipe" && def.in) {
      s = def.in;
    } else {
      return s;
    }
  }
}

/**
 * Flags and env vars decode `123` and `true` as JSON; a string field (a token, a name) takes them as the
 * text the user typed. Only top-level fields of `schema` are touched.
 */
export function coerceStringFields(schema: z.ZodObject, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, v] of Object.entries(out)) {
    const field = schema.shape[key] as z.ZodType | undefined;
    if (
      field &&
      (typeof v === "number" || typeof v === "boolean") &&
      baseSchema(field).def.type === "string"
    ) {
      out[key] = String(v);
    }
  }
  return out;
}
