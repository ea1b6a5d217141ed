/**
 * SWEAgentConfigBuilder (the seed's `config/config_builder.py`): the SWE-agent YAML config an external agent
 * command is started with. Each rollout gets a unique instance name, so parallel runs of the same task never
 * share containers or output folders, and the model section points at the rollout's proxy session.
 */
import { randomUUID } from "node:crypto";
import { stringify } from "yaml";
import type { AgentConfig } from "./config.js";
import { DEFAULT_INSTANCE_TEMPLATE, DEFAULT_SYSTEM_TEMPLATE } from "./prompts.js";

export interface SWEAgentConfigInput {
  instanceId: string;
  /** The repository the agent works on. */
  repoPath: string;
  outputDir: string;
  /** The proxy session's OpenAI base URL. */
  apiBase: string;
  agent: AgentConfig;
  /** SWE-agent's `env.deployment` (default: `{type: local}`). */
  deployment?: Record<string, unknown>;
}

/** The environment SWE-agent gives tool commands (the seed's `DEFAULT_ENV_VARIABLES`). */
export const AGENT_ENV_VARIABLES: Record<string, string> = {
  PAGER: "cat",
  MANPAGER: "cat",
  LESS: "-R",
  PIP_PROGRESS_BAR: "off",
  TQDM_DISABLE: "1",
  GIT_PAGER: "cat",
};

export class SWEAgentConfigBuilder {
  /** `swerex-<instance>-<8 hex>`: unique per rollout. */
  readonly uniqueName: string;
  private readonly input: SWEAgentConfigInput;

  constructor(input: SWEAgentConfigInput) {
    this.input = input;
    this.uniqueName = `swerex-${input.instanceId}-${randomUUID().slice(0, 8)}`;
  }

  build(): Record<string, unknown> {
    const { agent } = this.input;
    return {
      output_dir: this.input.outputDir,
      env: {
        repo: { path: this.input.repoPath, type: "local" },
        deployment: this.input.deployment ?? { type: "local" },
        name: this.uniqueName,
      },
      agent: {
        templates: {
          system_template: agent.system_template ?? DEFAULT_SYSTEM_TEMPLATE,
          instance_template: agent.instance_template ?? DEFAULT_INSTANCE_TEMPLATE,
          next_step_template: "OBSERVATION:\n{{observation}}",
          next_step_no_output_template: "Your command ran successfully and did not produce any output.",
          max_observation_length: agent.max_observation_length,
        },
        tools: {
          execution_timeout: agent.execution_timeout,
          env_variables: { ...AGENT_ENV_VARIABLES, ...agent.env },
          parse_function: { type: "thought_action" },
        },
        model: {
          name: `openai/${agent.model}`,
          api_base: this.input.apiBase,
          // The proxy does not check keys; SWE-agent's client insists on having one.
          api_key: "swerex",
          per_instance_call_limit: agent.max_steps,
          per_instance_cost_limit: 0,
          total_cost_limit: 0,
          temperature: agent.temperature ?? 0,
        },
      },
    };
  }

  toYaml(): string {
    return stringify(this.build());
  }
}
