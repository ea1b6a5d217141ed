/**
 * `swerex proxy --policy.type=... [--port 8080] [--record out.jsonl]`: the ModelProxy on its own, for an agent
 * started by hand. The agent's OpenAI base URL is printed on stdout (`OPENAI_BASE_URL=http://host:port/v1`);
 * `/sessions/{id}/v1` opens a separate session per id on first use. Runs until SIGINT/SIGTERM, then fails
 * waiting calls, flushes the recording and exits.
 */

import { z } from "zod";
import { ConfigError, loadConfig, zodIssues } from "../../config/index.js";
import { registerDeployment, unregisterDeployment } from "../../deployment/registry.js";
import { createPolicy, PolicyConfigSchema } from "../../rollout/policy/create.js";
import { PolicyError } from "../../rollout/policy/errors.js";
import { TrainerPolicy } from "../../rollout/policy/trainer.js";
import {
  DEFAULT_MAX_AUTO_SESSIONS,
  DEFAULT_SESSION_IDLE_TIMEOUT_S,
  type ModelProxy,
} from "../../rollout/proxy/model-proxy.js";
import { DEFAULT_BASE_PORT, startSingleRolloutProxy } from "../../rollout/proxy/single-rollout.js";
import type { PolicyBackend } from "../../rollout/types.js";
import { createCliLogger } from "../logger.js";

export const description =
  "run the OpenAI-compatible ModelProxy (openai upstream, trainer-driven or replay policy)";

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const ProxyOptions = z.strictObject({
  port: z.number().int().min(0).max(65535).default(DEFAULT_BASE_PORT),
  /** Try port+1, port+2, ... when the port is taken (the seed's behaviour). */
  port_fallback: z.boolean().default(true),
  host: z.string().min(1).default("127.0.0.1"),
  record: z.string().min(1).optional(),
  /** Model calls per session; 0 (the default for a proxy started by hand) means no limit. */
  max_steps: z.number().int().nonnegative().default(0),
  /** Seconds per model call (the seed's `timeout`). */
  timeout: z.number().positive().default(600),
  session_id: z.coerce.string().min(1).default("default"),
  model_name: z.coerce.string().min(1).optional(),
  trainer_token: z.coerce.string().min(1).optional(),
  /** Seconds a session opened by its id may sit idle before it is forgotten. */
  session_idle_timeout: z.number().positive().default(DEFAULT_SESSION_IDLE_TIMEOUT_S),
  /** Sessions opened by their id at once; past it the least recently used idle one is evicted. */
  max_sessions: z.number().int().positive().default(DEFAULT_MAX_AUTO_SESSIONS),
});

const USAGE = `Usage: swerex proxy --policy.type=openai|trainer|replay [flags]

Runs the ModelProxy: an OpenAI-compatible /v1/chat/completions that hands every call to a policy backend
and records it. Prints the agent's base URL (OPENAI_BASE_URL=...) on stdout; runs until SIGINT/SIGTERM.

Flags:
  --policy.type=openai --policy.base_url=URL [--policy.model=M] [--policy.api_key=K]
      [--policy.logprobs] [--policy.return_token_ids] [--policy.return_tokens_as_token_ids]
      [--policy.extra_body.<key>=<value>] [--policy.max_connections=1024] [--policy.timeout=600]
  --policy.type=trainer          calls wait for a trainer: GET /trainer/requests, POST /trainer/responses/{id}
  --policy.type=replay --policy.path=traj.jsonl [--policy.session_id=ID] [--policy.strict]
  --port <n>               first port tried (default 8080; 0 = any free port)
  --no-port_fallback       fail instead of trying port+1, port+2, ... when the port is taken
  --host <addr>            bind address (default 127.0.0.1)
  --record <file.jsonl>    append every call's record to this file
  --max_steps <n>          model calls per session (default 0 = no limit); then 403 max_steps_exceeded
  --timeout <seconds>      per model call (default 600); then 504 request_timeout
  --session_id <id>        id of the session behind the plain /v1 base URL (default: default)
  --model_name <name>      name listed by GET /v1/models
  --trainer_token <token>  require Authorization: Bearer <token> on /trainer/* routes
  --session_idle_timeout <s>  forget a session opened by its id after this long without calls (default 3600)
  --max_sessions <n>       sessions opened by their id at once (default 10000); the least recently used
                           idle one is evicted past it
  --config <file>          YAML/JSON config file; --log_level <level> (default info)

Docs: docs/model-proxy.md
`;

export interface ProxyCommandContext {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export async function run(argv: string[], ctx: ProxyCommandContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  let options: z.infer<typeof ProxyOptions>;
  let policy: PolicyBackend;
  let logLevel: string;
  try {
    const config = loadConfig({ argv, env: ctx.env, accept: ["policy", ...Object.keys(ProxyOptions.shape)] });
    if (config.values.help === true) {
      stdout.write(USAGE);
      return 0;
    }
    logLevel = config.settings.log_level;
    const { policy: policyTree, help: _h, version: _v, ...rest } = config.values;
    // Both checked before reporting, so one run names every bad flag.
    const opts = ProxyOptions.safeParse(rest);
    const pc = PolicyConfigSchema.safeParse(policyTree ?? {});
    const issues = [
      ...(opts.success ? [] : zodIssues(opts.error, { input: rest, where: config.where })),
      ...(pc.success
        ? []
        : zodIssues(pc.error, {
            input: policyTree,
            where: (p) => config.where(["policy", ...p]),
            owner: "policy",
          })),
    ];
    if (pc.success && pc.data.type === "trainer" && pc.data.port !== undefined) {
      issues.push({ where: config.where(["policy", "port"]), message: "swerex proxy listens on --port" });
    }
    if (!opts.success || !pc.success || issues.length > 0) throw new ConfigError(issues);
    options = opts.data;
    policy = createPolicy(pc.data);
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof PolicyError)) throw err;
    stderr.write(`swerex proxy: ${err.message.replaceAll("\n", "\nswerex proxy: ")}\n`);
    return EXIT_USAGE;
  }

  const logger = createCliLogger({ name: "swerex proxy", level: logLevel, env: ctx.env });
  let proxy: ModelProxy;
  try {
    proxy = await startSingleRolloutProxy({
      basePort: options.port,
      maxPortRetries: options.port_fallback && options.port !== 0 ? 100 : 0,
      host: options.host,
      policy,
      requestTimeoutS: options.timeout,
      maxSteps: options.max_steps,
      autoSessions: true,
      // Records go to --record (if given); nothing reads them from memory in a standalone proxy.
      keepRecords: false,
      sessionIdleTimeoutS: options.session_idle_timeout,
      maxAutoSessions: options.max_sessions,
      session: { id: options.session_id, maxSteps: options.max_steps },
      logger,
      ...(options.record === undefined ? {} : { record: options.record }),
      ...(options.model_name === undefined ? {} : { modelName: options.model_name }),
      ...(options.trainer_token === undefined ? {} : { trainerToken: options.trainer_token }),
    });
  } catch (err) {
    stderr.write(`swerex proxy: cannot start: ${(err as Error).message}\n`);
    await policy.close?.();
    return EXIT_FAILURE;
  }
  // Stopped (recording flushed) on SIGINT/SIGTERM by the dispatcher's cleanup, like a deployment.
  let stopping: Promise<void> | undefined;
  const stoppable = {
    stop: () => {
      stopping ??= proxy.close().then(() => policy.close?.());
      return stopping;
    },
  };
  registerDeployment(stoppable);
  stdout.write(`OPENAI_BASE_URL=${proxy.url}/v1\n`);
  logger.info(
    { url: proxy.url, policy: policy instanceof TrainerPolicy ? "trainer" : policy.constructor.name },
    `model proxy ready; agents: ${proxy.url}/v1 (session ${options.session_id}) or ${proxy.url}/sessions/{id}/v1`,
  );
  await new Promise<void>((resolve) => {
    if (!ctx.signal || ctx.signal.aborted) {
      if (ctx.signal?.aborted) resolve();
      // Without a signal (library use) the proxy runs until the process ends.
      return;
    }
    ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await stoppable.stop();
  unregisterDeployment(stoppable);
  return 0;
}
