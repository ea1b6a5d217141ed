/**
 * Training data in the seed's verl format (`prompt`, `reward_model`, `extra_info`, `agent_name`, plus
 * `data_source` and `ability`): the simple tasks (`--mode simple`) or SWE-bench instances (`--mode swebench`).
 * The prompt is minimal on purpose: the agent's real templates are applied at rollout time.
 */
import type { SweTask } from "../tasks/task.js";
import { SIMPLE_CASES_TRAIN, SIMPLE_CASES_VAL } from "./simple-cases.js";

export interface TrainingRowOut {
  prompt: Array<{ role: "user"; content: string }>;
  data_source: string;
  ability: "software_engineering";
  reward_model: Record<string, unknown>;
  extra_info: Record<string, unknown>;
  agent_name: string;
}

export type Split = "train" | "test";

/** `n` rows cycling through the split's pool (train and test pools are disjoint); the seed's per-row limits. */
export function simpleTrainingRows(n: number, split: Split, agentName = "swe_agent"): TrainingRowOut[] {
  const pool = split === "train" ? SIMPLE_CASES_TRAIN : SIMPLE_CASES_VAL;
  return Array.from({ length: n }, (_, index) => {
    const c = pool[index % pool.length] as (typeof pool)[number];
    return {
      prompt: [{ role: "user", content: c.problem_statement }],
      data_source: "swe_agent_simple",
      ability: "software_engineering",
      reward_model: { style: "swe_agent", ground_truth: c.expected_patch },
      extra_info: {
        index,
        split,
        instance_id: `swe_agent_simple-${split}-${index}`,
        repo_content: c.repo_content,
        expected_patch: c.expected_patch,
        problem_statement: c.problem_statement,
        sandbox_overrides: { max_steps: 10, max_turns: 8 },
      },
      agent_name: agentName,
    };
  });
}

/** A SWE-bench instance as a training row; every task field rides along in `extra_info`. */
export function swebenchTrainingRow(
  task: SweTask,
  index: number,
  split: Split,
  agentName = "swe_agent",
): TrainingRowOut {
  const overrides = task.image
    ? { docker_image: task.image, ...task.agent_overrides }
    : { ...task.agent_overrides };
  return {
    prompt: [{ role: "user", content: task.problem_statement }],
    data_source: "swe_bench",
    ability: "software_engineering",
    reward_model: {
      style: "swe_bench",
      instance_id: task.instance_id,
      test_patch: task.test_patch,
      gold_patch: task.patch,
      ground_truth: { gold_patch: task.patch },
    },
    extra_info: { ...task, index, split, sandbox_overrides: overrides },
    agent_name: agentName,
  };
}
