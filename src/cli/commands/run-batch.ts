/**
 * `swerex run-batch --instances.path tasks.jsonl [--instances.deployment.type=docker] --policy.type=openai
 * --policy.base_url=URL [--num_workers 8] ...`: rollouts over a task file, with progress, per-instance results
 * in JSONL, resume, and a summary table. See docs/rollout.md.
 */
import { ConfigError, type LoadedConfig, loadConfig, zodIssues } from "../../config/index.js";
import { parseDeploymentConfig } from "../../deployment/index.js";
import {
  type AgentConfig,
  BatchOptionsSchema,
  createPolicy,
  InstancesSchema,
  loadTasks,
  type PolicyBackend,
  PolicyConfigSchema,
  PolicyError,
  RewardConfig,
  runBatch,
  selectTasks,
  TaskFormatError,
  validateAgentConfig,
} from "../../rollout/index.js";

export const description =
  "run an agent over a task file (SWE-bench JSONL): rollouts, patches, rewards, results JSONL";

const EXIT_USAGE = 2;

const USAGE = `Usage: swerex run-batch --instances.path tasks.jsonl --policy.type=openai|trainer|replay [flags]

Instances:
  --instances.path FILE              SWE-bench JSONL / JSON array, or verl training rows (required)
  --instances.filter REGEX           only instance_ids matching REGEX
  --instances.slice START:STOP       a slice of the (filtered) list
  --instances.deployment.type=local|docker|remote|tencentags|dummy   (default local)
  --instances.deployment.<key>=V     any key of that deployment type (a task's "image" wins for docker)
Policy (the model behind the proxy):
  --policy.type=openai --policy.base_url=URL [--policy.model=M] [--policy.api_key=K] [--policy.return_token_ids]
  --policy.type=replay --policy.path=model_calls.jsonl    (recorded sessions replay by instance id)
  --policy.type=trainer [--policy.port=0]                 (a trainer answers over /trainer/* routes; the URL is
                                                           printed as TRAINER_URL=http://127.0.0.1:PORT)
Agent:
  --agent.type=bash|command          built-in bash agent (default) or an external program
  --agent.command=CMD                the program for type=command (gets OPENAI_BASE_URL, SWEREX_AGENT_CONFIG, ...)
  --agent.max_turns=15 --agent.max_steps=30 (0 = no limit) --agent.execution_timeout=300 --agent.swe_agent_timeout=1800
  --agent.kill_timeout=15 --agent.max_observation_length=10000 --agent.max_format_errors=3
  --agent.model=swerex-policy --agent.temperature=T --agent.env.<NAME>=V
Reward:
  --reward.type=swebench|similarity  (default swebench)   --reward.eval_timeout=1800
Run:
  --num_workers=1                    rollouts at the same time
  --output_dir=swerex-batch          results.jsonl, model_calls.jsonl, summary.json
  --redo_existing                    run instances again that results.jsonl already has (default: skip them)
  --progress=auto|bar|lines|off      (auto: bar on a terminal, one line per instance otherwise)
  --model_timeout=600                seconds per model call    --provision_timeout=1200  seconds per sandbox start
  --fail_on_error                    exit 1 when any instance failed (default: exit 0 once the run ends)
  --config FILE                      YAML/JSON with the same keys

Docs: docs/rollout.md
`;

export interface RunBatchCommandContext {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

function issuesOf<T>(
  result: { success: true; data: T } | { success: false; error: import("zod").ZodError },
  input: unknown,
  where: (p: readonly string[]) => string,
  owner?: string,
) {
  return result.success ? [] : zodIssues(result.error, { input, where, ...(owner ? { owner } : {}) });
}

export async function run(argv: string[], ctx: RunBatchCommandContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  let policy: PolicyBackend;
  let prepared: Omit<Parameters<typeof runBatch>[0], "policy">;
  try {
    const config: LoadedConfig = loadConfig({
      argv,
      env: ctx.env,
      accept: ["instances", "policy", "agent", "reward", ...Object.keys(BatchOptionsSchema.shape)],
    });
    if (config.values.help === true) {
      stdout.write(USAGE);
      return 0;
    }
    const {
      instances: instTree,
      policy: policyTree,
      agent: agentTree,
      reward: rewardTree,
      help: _h,
      version: _v,
      ...rest
    } = config.values;
    const sub = (prefix: string) => (p: readonly string[]) => config.where([prefix, ...p]);
    // Every tree is checked before reporting, so one run names every bad flag.
    const opts = BatchOptionsSchema.safeParse(rest);
    const inst = InstancesSchema.safeParse(instTree ?? {});
    const pol = PolicyConfigSchema.safeParse(policyTree ?? {});
    const rew = RewardConfig.safeParse(rewardTree ?? {});
    const issues = [
      ...issuesOf(opts, rest, config.where),
      ...issuesOf(inst, instTree, sub("instances")),
      ...issuesOf(pol, policyTree, sub("policy"), "policy"),
      ...issuesOf(rew, rewardTree, sub("reward")),
    ];
    let agent: AgentConfig | undefined;
    try {
      agent = validateAgentConfig(agentTree ?? {}, sub("agent"));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
    }
    if (inst.success) {
      try {
        parseDeploymentConfig(inst.data.deployment, {
          where: (p) => config.where(["instances", "deployment", ...p]),
        });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        issues.push(...err.issues);
      }
    }
    if (!opts.success || !inst.success || !pol.success || !rew.success || !agent || issues.length)
      throw new ConfigError(issues);
    const tasks = selectTasks(await loadTasks(inst.data.path), inst.data);
    policy = createPolicy(pol.data);
    prepared = {
      ...(pol.data.type === "trainer" && pol.data.port !== undefined ? { proxyPort: pol.data.port } : {}),
      tasks,
      deployment: inst.data.deployment,
      agent,
      reward: rew.data,
      options: opts.data,
      stdout,
      stderr,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    };
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof PolicyError || err instanceof TaskFormatError;
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    if (!known && !missing) throw err;
    stderr.write(`swerex run-batch: ${(err as Error).message.replaceAll("\n", "\nswerex run-batch: ")}\n`);
    return EXIT_USAGE;
  }
  try {
    const out = await runBatch({ ...prepared, policy });
    if (out.summary.cancelled > 0 || ctx.signal?.aborted) return 130;
    return prepared.options.fail_on_error && out.summary.failed > 0 ? 1 : 0;
  } finally {
    await policy.close?.();
  }
}
