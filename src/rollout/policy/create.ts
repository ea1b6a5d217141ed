/**
 * `createPolicy(config)`: a policy backend from the `policy.*` config keys (YAML or dotted flags such as
 * `--policy.type=openai --policy.base_url=http://127.0.0.1:8000/v1`).
 */
import { z } from "zod";
import type { PolicyBackend } from "../types.js";
import { PolicyError } from "./errors.js";
import { OpenAIPolicy } from "./openai.js";
import { ReplayPolicy } from "./replay.js";
import { describeIssues } from "./schema.js";
import { TrainerPolicy } from "./trainer.js";

const OpenAIConfigSchema = z.object({
  type: z.literal("openai"),
  base_url: z.string().url(),
  // A numeric-looking key or model name must stay a string even when the flag parser decoded it.
  api_key: z.coerce.string().optional(),
  model: z.coerce.string().optional(),
  logprobs: z.boolean().optional(),
  return_token_ids: z.boolean().optional(),
  return_tokens_as_token_ids: z.boolean().optional(),
  extra_body: z.record(z.string(), z.unknown()).optional(),
  max_connections: z.number().int().positive().optional(),
  timeout: z.number().positive().optional(),
});

const TrainerConfigSchema = z.object({
  type: z.literal("trainer"),
  /**
   * run-batch: the port its proxy (and so the `/trainer/*` routes) listens on; default any free port. The URL
   * is printed either way. (`swerex proxy` listens on its own `--port`.)
   */
  port: z.number().int().min(0).max(65535).optional(),
});

const ReplayConfigSchema = z.object({
  type: z.literal("replay"),
  path: z.string().min(1),
  session_id: z.coerce.string().optional(),
  strict: z.boolean().optional(),
});

export const PolicyConfigSchema = z.discriminatedUnion("type", [
  OpenAIConfigSchema.strict(),
  TrainerConfigSchema.strict(),
  ReplayConfigSchema.strict(),
]);

export type PolicyConfig = z.input<typeof PolicyConfigSchema>;

/** Validates `config` (400-style message naming the field, never echoing values) and builds the backend. */
export function createPolicy(config: unknown): PolicyBackend {
  const parsed = PolicyConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new PolicyError(`invalid policy config: ${describeIssues(parsed.error)}`, {
      status: 400,
      type: "config_error",
    });
  }
  const c = parsed.data;
  switch (c.type) {
    case "openai": {
      const { type: _type, ...rest } = c;
      return new OpenAIPolicy(rest);
    }
    case "trainer":
      return new TrainerPolicy();
    case "replay":
      return ReplayPolicy.fromFile(c.path, {
        ...(c.session_id === undefined ? {} : { session_id: c.session_id }),
        ...(c.strict === undefined ? {} : { strict: c.strict }),
      });
  }
}
