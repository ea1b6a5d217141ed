/** Shared setup for rollout tests: a real ModelProxy, real local deployments (tracked), scripted policies. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { LocalDeployment } from "../../../src/deployment/local.js";
import { validateAgentConfig } from "../../../src/rollout/agents/config.js";
import { type ModelProxy, startModelProxy } from "../../../src/rollout/proxy/model-proxy.js";
import { RewardConfig } from "../../../src/rollout/reward/reward.js";
import { type RolloutOptions, type RolloutResult, runRollout } from "../../../src/rollout/rollout.js";
import { loadTasks } from "../../../src/rollout/tasks/load.js";
import type { SweTask } from "../../../src/rollout/tasks/task.js";
import type { ChatCompletionRequest, PolicyBackend, PolicyResponse } from "../../../src/rollout/types.js";

export const bash = (cmd: string, thought = "Next step."): PolicyResponse => ({
  content: `THOUGHT: ${thought}\n\n\`\`\`bash\n${cmd}\n\`\`\``,
  finish_reason: "stop",
});

/** Answers from a list, then repeats the last answer; records every request it saw. */
export class ScriptedPolicy implements PolicyBackend {
  seen: ChatCompletionRequest[] = [];
  private readonly replies: PolicyResponse[];
  constructor(replies: PolicyResponse[]) {
    this.replies = replies;
  }
  async complete(request: ChatCompletionRequest): Promise<PolicyResponse> {
    this.seen.push(request);
    return this.replies[Math.min(this.seen.length - 1, this.replies.length - 1)] as PolicyResponse;
  }
}

export async function exampleTasks(): Promise<SweTask[]> {
  return loadTasks(resolve("examples/tasks.jsonl"));
}

export async function exampleTask(id: string): Promise<SweTask> {
  const t = (await exampleTasks()).find((x) => x.instance_id === id);
  if (!t) throw new Error(`no example ${id}`);
  return t;
}

/** Runs rollouts on real local deployments and remembers each deployment and scratch dir to check cleanup. */
export class RolloutHarness {
  proxy!: ModelProxy;
  deployments: LocalDeployment[] = [];

  async start(): Promise<void> {
    this.proxy = await startModelProxy({ port: 0, policy: new ScriptedPolicy([bash("true")]) });
  }

  async close(): Promise<void> {
    for (const d of this.deployments) await d.stop();
    await this.proxy?.close();
  }

  async run(
    task: SweTask,
    policy: PolicyBackend,
    agent: Record<string, unknown> = {},
    extra: Partial<RolloutOptions> = {},
  ): Promise<RolloutResult> {
    const proxy = this.proxy;
    return runRollout({
      task,
      createDeployment: () => {
        const d = new LocalDeployment();
        this.deployments.push(d);
        return d;
      },
      proxy: { openSession: (id, opts) => proxy.openSession(id, { ...opts, policy }) },
      agent: validateAgentConfig(agent),
      reward: RewardConfig.parse({ eval_timeout: 120 }),
      ...extra,
    });
  }

  /** Every deployment is stopped and no scratch checkout is left under /tmp. */
  async allStopped(): Promise<boolean> {
    for (const d of this.deployments) if ((await d.isAlive()).is_alive) return false;
    return true;
  }
}

export function scratchDirOf(result: RolloutResult): string | undefined {
  const text = JSON.stringify(result.trajectory[0]?.request.messages ?? []);
  return /\/tmp\/swerex-task-[^/\\"]+/.exec(text)?.[0];
}

export function gone(path: string | undefined): boolean {
  return path !== undefined && !existsSync(path);
}
