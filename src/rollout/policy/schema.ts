/**
 * zod schemas for PolicyResponse and ModelCallRecord where they cross a process boundary: a trainer's
 * `POST /trainer/responses/{id}` body and the lines of a recorded trajectory being replayed.
 */
import { z } from "zod";
import type { PolicyResponse } from "../types.js";

const ToolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function"),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});

export const PolicyResponseSchema = z
  .object({
    content: z.string().nullable(),
    tool_calls: z.array(ToolCallSchema).optional(),
    finish_reason: z.enum(["stop", "length", "tool_calls", "content_filter"]),
    usage: UsageSchema.optional(),
    model: z.string().optional(),
    prompt_token_ids: z.array(z.number().int()).optional(),
    completion_token_ids: z.array(z.number().int()).optional(),
    logprobs: z.array(z.number()).optional(),
    id: z.string().min(1).optional(),
    system_fingerprint: z.string().optional(),
    reasoning_content: z.string().optional(),
  })
  .refine((r) => r.content !== null || (r.tool_calls?.length ?? 0) > 0, {
    message: "content may be null only when tool_calls is non-empty",
    path: ["content"],
  }) satisfies z.ZodType<PolicyResponse>;

export const ModelCallRecordSchema = z
  .object({
    session_id: z.string(),
    step: z.number().int().nonnegative(),
    request: z.looseObject({
      messages: z.array(
        z.looseObject({
          role: z.enum(["system", "user", "assistant", "tool", "developer"]),
          content: z.unknown(),
        }),
      ),
    }),
    response: PolicyResponseSchema.nullable(),
    error: z
      .object({
        type: z.string(),
        message: z.string(),
        code: z.string().optional(),
        status: z.number().int().optional(),
      })
      .optional(),
    started_at: z.string(),
    duration_ms: z.number(),
  })
  .loose();

/** One line of zod issues, naming the field, for HTTP 400 bodies and load errors. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}
