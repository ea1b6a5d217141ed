/**
 * Wire shapes of `/v1/rollouts` and `/v1/calls` (zod, for validation and the OpenAPI document). The request's
 * `task`, `agent`, `policy`, `reward` and `deployment` are validated by the rollout service with run-batch's
 * own schemas and messages; here they are only objects.
 */
import { z } from "zod";
import { PolicyResponseSchema } from "../../rollout/policy/schema.js";
import { ROLLOUT_STATES } from "../../store/types.js";
import { Metadata, SandboxErrorInfo } from "./schemas.js";

const tree = (description: string) => z.record(z.string(), z.unknown()).meta({ description });

export const CreateRolloutBody = z
  .strictObject({
    task: tree(
      "A SWE-bench instance (or a verl training row). The repository comes inline (repo_content), as an " +
        "absolute repo_dir on the service's machine, or in the image; relative paths are a 422.",
    ),
    agent: tree("agent.* keys of run-batch (the built-in bash agent).").optional(),
    policy: tree(
      "policy.* keys of run-batch: {type: trainer} | {type: openai, base_url, ...} | {type: replay, path}",
    ),
    reward: tree("reward.* keys of run-batch (default swebench).").optional(),
    deployment: tree("Deployment config merged over the service's default.").optional(),
    pool: z
      .string()
      .optional()
      .meta({ description: "A warm pool of the service to take the sandbox from (instead of deployment)." }),
    max_steps: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({ description: "Model calls (default 30; 0 = no limit)." }),
    max_turns: z.number().int().positive().optional().meta({ description: "Agent turns (default 15)." }),
    swe_agent_timeout: z
      .number()
      .positive()
      .optional()
      .meta({ description: "Seconds for the agent (default 1800)." }),
    metadata: Metadata.optional(),
  })
  .meta({ id: "CreateRollout" });

export const RolloutState = z.enum(ROLLOUT_STATES).meta({ id: "RolloutState" });

const timestamp = z.iso.datetime().nullable();

export const Rollout = z
  .object({
    id: z.string().meta({ description: "`rol-` and 20 base32 characters" }),
    state: RolloutState,
    instance_id: z.string(),
    sandbox_id: z.string().nullable(),
    metadata: Metadata,
    created_at: z.iso.datetime(),
    started_at: timestamp,
    finished_at: timestamp,
    error: SandboxErrorInfo.nullable(),
    request: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: "As accepted, secrets removed." }),
    result: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .meta({
        description:
          "When done: run-batch's result record (status, failure_class, patch, reward, score, resolved, " +
          "timings, trajectory, verl, verl_error). Lists leave it out.",
      }),
  })
  .meta({ id: "Rollout" });
export type RolloutWire = z.infer<typeof Rollout>;

export const RolloutList = z
  .object({ items: z.array(Rollout), next_cursor: z.string().nullable() })
  .meta({ id: "RolloutList" });

export const RolloutCreated = z
  .object({ id: z.string(), state: RolloutState })
  .meta({ id: "RolloutCreated" });

export const ModelCall = z
  .object({
    call_id: z.string(),
    rollout_id: z.string(),
    step: z.number().int(),
    request: z.record(z.string(), z.unknown()).meta({ description: "The agent's chat-completion request." }),
  })
  .meta({ id: "ModelCall" });

export const CallResponseBody = PolicyResponseSchema.meta({
  id: "CallResponse",
  description:
    "The PolicyResponse: token ids and logprobs given here reach the trajectory and the verl fields.",
});

export const CallErrorBody = z
  .strictObject({
    status: z.number().int().min(400).max(599).default(500),
    code: z.string().optional(),
    message: z.string().min(1),
    type: z.string().optional(),
  })
  .meta({ id: "CallError", description: "Fails the call: the agent gets this as an OpenAI error." });

/** Seconds a long-poll may wait. */
export const CALL_POLL_MAX_S = 60;
export const CallPollQuery = z.strictObject({
  timeout: z.coerce.number().min(0).max(CALL_POLL_MAX_S).default(30),
});
