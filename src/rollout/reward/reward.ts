/** `reward.type` dispatch: `swebench` (tests, the default) or `similarity` (the seed's patch comparison). */
import { z } from "zod";
import type { Runtime } from "../../runtime/runtime.js";
import type { SweTask } from "../tasks/task.js";
import { patchSimilarity, type SimilarityReward } from "./similarity.js";
import { type SwebenchReward, swebenchReward } from "./swebench.js";

export const RewardConfig = z.object({
  type: z.enum(["swebench", "similarity"]).default("swebench"),
  /** Seconds the evaluation script may run (SWE-bench harness default). */
  eval_timeout: z.number().positive().default(1800),
  /**
   * Grade the patch in a second sandbox from the same deployment config, on a clean checkout of the base
   * commit (as SWE-bench's harness does with a fresh container), instead of in the agent's own sandbox.
   */
  fresh_sandbox: z.boolean().default(false),
});
export type RewardConfig = z.infer<typeof RewardConfig>;
export type RewardConfigInput = z.input<typeof RewardConfig>;

export type Reward = SwebenchReward | SimilarityReward;

export interface RewardContext {
  runtime: Runtime;
  task: SweTask;
  patch: string;
  workdir: string;
  baseCommit: string;
}

export async function computeReward(config: RewardConfig, ctx: RewardContext): Promise<Reward> {
  if (config.type === "similarity") return patchSimilarity(ctx.patch, ctx.task.patch);
  return swebenchReward(ctx.runtime, ctx.task, ctx.patch, {
    workdir: ctx.workdir,
    baseCommit: ctx.baseCommit,
    evalTimeout: config.eval_timeout,
  });
}
