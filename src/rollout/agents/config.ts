/**
 * Agent configuration (`agent.*` keys) and its validator (the seed's `AgentConfigValidator`): every key is
 * checked up front and a bad one is reported with where it came from and what it accepts, e.g.
 * `agent.max_turns: Too small: expected number to be >0, got 0`.
 */
import { z } from "zod";
import { ConfigError } from "../../config/errors.js";
import { type WhereFn, zodIssues } from "../../config/zod.js";

export const DEFAULT_SUBMIT_SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";

const positiveInt = z.number().int().positive();
const positiveSeconds = z.number().positive();

export const AgentConfigSchema = z
  .strictObject({
    /** `bash`: the built-in agent, in the sandbox; `command`: any agent program run on this machine. */
    type: z.enum(["bash", "command"]).default("bash"),
    /** Model replies the bash agent may get before the rollout ends (seed: 15). */
    max_turns: positiveInt.default(15),
    /** Model calls the proxy answers for one rollout (seed: 30); 0 = no limit, as SWE-agent's `per_instance_call_limit`. */
    max_steps: z.number().int().nonnegative().default(30),
    /** Seconds one command may run in the sandbox (seed: 300). */
    execution_timeout: positiveSeconds.default(300),
    /** Seconds the whole agent run may take; past it the agent is killed and the sandbox stopped (seed: 1800). */
    swe_agent_timeout: positiveSeconds.default(1800),
    /** Seconds between SIGTERM and SIGKILL for an agent command (verl-recipe: 15). */
    kill_timeout: positiveSeconds.default(15),
    /** Longest observation given back to the model; longer output keeps its head and tail. */
    max_observation_length: positiveInt.default(10_000),
    /** Replies without exactly one bash block in a row before the agent gives up. */
    max_format_errors: positiveInt.default(3),
    /** First line of a command's output that submits (mini-swe-agent's sentinel). */
    submit_sentinel: z.string().min(1).default(DEFAULT_SUBMIT_SENTINEL),
    /** `model` sent in every request (the policy decides what actually answers). */
    model: z.coerce.string().default("swerex-policy"),
    temperature: z.number().min(0).optional(),
    /** Override the prompts; `{{working_dir}}` and `{{problem_statement}}` are filled in. */
    system_template: z.string().optional(),
    instance_template: z.string().optional(),
    /** Extra environment of agent commands (bash) or of the agent program (command). */
    env: z.record(z.string(), z.coerce.string()).default({}),
    /** The program of `type=command`, run with `bash -c` on this machine. */
    command: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.type === "command" && !c.command?.trim()) {
      ctx.addIssue({ code: "custom", path: ["command"], message: 'required when agent.type is "command"' });
    }
  });

export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** Validates `agent.*`; throws ConfigError listing every bad key (`where` names them, default `agent.<key>`). */
export function validateAgentConfig(
  raw: unknown,
  where: WhereFn = (p) => ["agent", ...p].join("."),
): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    zodIssues(parsed.error, {
      input: raw,
      where,
      owner: "agent",
      acceptedKeys: Object.keys(AgentConfigSchema.shape),
    }),
  );
}

/** The run's agent config with a task's own limits on top (the seed's `sandbox_overrides`). */
export function withOverrides(config: AgentConfig, overrides: Partial<AgentConfig> | undefined): AgentConfig {
  if (!overrides) return config;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...config, ...defined };
}
