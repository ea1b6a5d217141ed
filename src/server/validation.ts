/**
 * Request validation with the protocol's zod schemas, reported the way FastAPI does (HTTP 422
 * `{"detail": [{"type", "loc", "msg"}]}`), so SWE-ReX clients and humans both see which field was wrong.
 */
import type { z } from "zod";

export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
}

export class RequestValidationError extends Error {
  readonly detail: ValidationIssue[];
  constructor(detail: ValidationIssue[]) {
    super(detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; "));
    this.name = "RequestValidationError";
    this.detail = detail;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function toIssue(issue: z.core.$ZodIssue, body: unknown): ValidationIssue {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const loc = ["body", ...path];
  if (valueAt(body, issue.path) === undefined) return { type: "missing", loc, msg: "Field required" };
  if (issue.code === "invalid_type") return { type: `${issue.expected}_type`, loc, msg: issue.message };
  return { type: issue.code, loc, msg: issue.message };
}

/** Parses `body` or throws a `RequestValidationError` naming every bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new RequestValidationError(result.error.issues.map((i) => toIssue(i, body)));
}

/** FastAPI's answer to a body that is not JSON at all. */
export function jsonDecodeIssue(message: string): ValidationIssue {
  return { type: "json_invalid", loc: ["body", 0], msg: `JSON decode error: ${message}` };
}
