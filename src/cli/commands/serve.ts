/**
 * `swerex serve`: the control-plane service (docs/control-plane.md). Sandboxes of every deployment type
 * over HTTP for API-key holders, recorded in a store (SQLite file by default, PostgreSQL by URL) that
 * survives restarts; the default deployment comes from the same `--instances.deployment.*` flags, env vars
 * and config file as `swerex run`. Runs until SIGINT/SIGTERM, then finishes requests in flight and leaves
 * the sandboxes running (their leases own them) unless `--stop_on_exit`.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { type Logger, pino } from "pino";
import { z } from "zod";
import { ConfigError, type ConfigTree, loadConfig, zodIssues } from "../../config/index.js";
import { ScaleConfig } from "../../controlplane/fleet-config.js";
import { parseDeploymentConfig } from "../../deployment/config.js";
import { registerDeployment, unregisterDeployment } from "../../deployment/registry.js";
import { CONTROL_REDACT_PATHS, DEFAULT_BODY_LIMIT_BYTES } from "../../server/control/app.js";
import { type RunningControlService, startControlService } from "../../server/control/service.js";
import { createStore, redactDatabaseUrl, sqlitePath } from "../../store/index.js";
import type { Store } from "../../store/types.js";

export const description = "run the control-plane service: sandboxes over HTTP with a persistent registry";

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
const SERVICE_ID_FILE = "service-id";
const SERVICE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** The scale-out keys of the config (fleet-config.ts). */
const SCALE_KEYS = Object.keys(ScaleConfig.shape);

function defaultDataDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "swerex", "serve");
}

const keyList = z.union([z.coerce.string(), z.array(z.coerce.string())]);

const ServeOptions = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  data_dir: z.string().min(1).optional(),
  /** `sqlite:PATH` or `postgres://...`; default `sqlite:<data_dir>/swerex.db`. */
  database: z.string().min(1).optional(),
  /** Comma-separated (or a list in a config file). */
  api_keys: keyList.optional(),
  /** One key per line; `#` starts a comment. */
  api_keys_file: z.string().min(1).optional(),
  default_ttl: z.number().positive().default(3600),
  max_ttl: z.number().positive().default(86_400),
  /** Active sandboxes across all keys; 0 = no limit. */
  max_sandboxes: z.number().int().nonnegative().default(1000),
  /** Active sandboxes of one key; 0 = no limit. */
  max_sandboxes_per_key: z.number().int().nonnegative().default(0),
  stop_on_exit: z.boolean().default(false),
  service_id: z.coerce.string().regex(SERVICE_ID, "1-64 of A-Z a-z 0-9 _ . -").optional(),
  public_url: z.url().optional(),
  body_limit: z.number().int().positive().default(DEFAULT_BODY_LIMIT_BYTES),
});
type ServeOptions = z.infer<typeof ServeOptions>;

const USAGE = `Usage: swerex serve [flags]

Runs the control-plane service: POST /v1/sandboxes creates a sandbox (docker, local, dummy), the
swerex-remote protocol of each one is at /v1/sandboxes/{id}/runtime, and a store keeps every record
across restarts. Runs until SIGINT/SIGTERM; sandboxes keep running (their leases own them).

Flags:
  --host <addr>                  bind address (default 127.0.0.1)
  --port <n>                     port (default 8080; 0 = any free port)
  --data_dir <dir>               where the SQLite file and the service id live
                                 (default $XDG_DATA_HOME/swerex/serve or ~/.local/share/swerex/serve)
  --database <url>               sqlite:PATH or postgres://user:pass@host/db (default sqlite:<data_dir>/swerex.db)
  --api_keys <k1,k2>             API keys (also SWEREX_API_KEYS); each key sees only its own sandboxes
  --api_keys_file <file>         one key per line (# comments)
  --default_ttl <s>              lease of a sandbox created without ttl (default 3600)
  --max_ttl <s>                  largest ttl accepted (default 86400); more is a 422
  --max_sandboxes <n>            live sandboxes in total (default 1000; 0 = no limit); more is a 429
  --max_sandboxes_per_key <n>    live sandboxes per API key (default 0 = no limit)
  --stop_on_exit                 stop every sandbox on SIGINT/SIGTERM instead of leaving them running
  --service_id <id>              names this service on its containers (default: kept in <data_dir>/service-id)
  --public_url <url>             base of runtime_url in answers (default: from the request's Host header)
  --body_limit <bytes>           largest API request body (default 1048576); more is a 413
  --instances.deployment.<key>=<value>
                                 the default deployment; a request's "deployment" is merged over it
  --deployment_type <type>       type when instances.deployment.type is not set (default docker)
  --config <file.yaml|json>      config file (flags > SWEREX_* env vars > file > defaults)
  --log_level <level>            trace|debug|info|warn|error|fatal|silent (default info)

Scale-out keys (config file; docs/control-plane.md "Pools, fleets and replicas"): docker_hosts, overflow,
pools, admission (--admission.queue_timeout, --admission.max_queue), host_lost_after.

Docs: docs/control-plane.md
`;

export interface ServeContext {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

interface ServePlan {
  options: ServeOptions;
  dataDir: string;
  database: string;
  apiKeys: string[];
  deploymentTree: ConfigTree;
  deploymentType: string;
  logLevel: string;
  scale: ScaleConfig;
}

function readKeys(options: ServeOptions, where: (k: string) => string): string[] {
  const keys: string[] = [];
  const given = options.api_keys;
  for (const item of given === undefined ? [] : Array.isArray(given) ? given : [given]) {
    keys.push(
      ...item
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k !== ""),
    );
  }
  if (options.api_keys_file) {
    let text: string;
    try {
      text = readFileSync(options.api_keys_file, "utf8");
    } catch (err) {
      throw new ConfigError([
        { where: where("api_keys_file"), message: `cannot read: ${(err as Error).message}` },
      ]);
    }
    for (const line of text.split("\n")) {
      const key = line.replace(/#.*/, "").trim();
      if (key !== "") keys.push(key);
    }
  }
  if (keys.length === 0) {
    throw new ConfigError([
      { where: "--api_keys", message: "no API keys: set --api_keys, SWEREX_API_KEYS or --api_keys_file" },
    ]);
  }
  return [...new Set(keys)];
}

function plan(argv: string[], env: Readonly<Record<string, string | undefined>>): ServePlan | "help" {
  const config = loadConfig({
    argv,
    env,
    accept: ["instances.deployment", ...Object.keys(ServeOptions.shape), ...SCALE_KEYS],
  });
  if (config.values.help === true) return "help";
  const own = Object.fromEntries(
    Object.keys(ServeOptions.shape)
      .filter((k) => config.values[k] !== undefined)
      .map((k) => [k, config.values[k]]),
  );
  const parsed = ServeOptions.safeParse(own);
  if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, { input: own, where: config.where }));
  const options = parsed.data;
  if (options.default_ttl > options.max_ttl) {
    throw new ConfigError([
      {
        where: config.where("default_ttl"),
        message: `${options.default_ttl} is above max_ttl (${options.max_ttl})`,
      },
    ]);
  }
  const deploymentTree = (config.get("instances.deployment") ?? {}) as ConfigTree;
  // The default must be valid on its own: a request that sends no deployment gets exactly it.
  parseDeploymentConfig(deploymentTree, {
    defaultType: config.settings.deployment_type,
    where: (p) => config.where(["instances", "deployment", ...p]),
  });
  // docker_hosts, overflow, pools, ...: lists of objects, so in practice from the config file.
  const scaleRaw = Object.fromEntries(
    SCALE_KEYS.filter((k) => config.get(k) !== undefined).map((k) => [k, config.get(k)]),
  );
  const scaleParsed = ScaleConfig.safeParse(scaleRaw);
  if (!scaleParsed.success) {
    throw new ConfigError(zodIssues(scaleParsed.error, { input: scaleRaw, where: config.where }));
  }
  const dataDir = resolve(options.data_dir ?? defaultDataDir(env));
  return {
    options,
    dataDir,
    database: options.database ?? `sqlite:${join(dataDir, "swerex.db")}`,
    apiKeys: readKeys(options, (k) => config.where(k)),
    deploymentTree,
    deploymentType: config.settings.deployment_type,
    logLevel: config.settings.log_level,
    scale: scaleParsed.data,
  };
}

/** The id in `<data_dir>/service-id`, created on first start so restarts find their own containers. */
function serviceIdFor(dataDir: string, given: string | undefined): string {
  if (given) return given;
  const file = join(dataDir, SERVICE_ID_FILE);
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (SERVICE_ID.test(id)) return id;
  }
  const id = `svc-${randomBytes(8).toString("hex")}`;
  writeFileSync(file, `${id}\n`);
  return id;
}

/** Pretty lines on a terminal, JSON lines otherwise; secrets redacted either way. */
async function createLogger(level: string, stderr: NodeJS.WritableStream): Promise<Logger> {
  const options = { level, base: null, redact: { paths: CONTROL_REDACT_PATHS, censor: "[redacted]" } };
  if ((stderr as { isTTY?: boolean }).isTTY) {
    const { default: pretty } = await import("pino-pretty");
    return pino(options, pretty({ destination: 2, sync: true, translateTime: "SYS:HH:MM:ss.l" }));
  }
  return pino(options, pino.destination({ fd: 2, sync: true }));
}

export async function run(argv: string[], ctx: ServeContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  const env = ctx.env ?? process.env;
  let p: ServePlan;
  try {
    const result = plan(argv, env);
    if (result === "help") {
      stdout.write(USAGE);
      return 0;
    }
    p = result;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr.write(`swerex serve: ${err.message.replaceAll("\n", "\nswerex serve: ")}\n`);
    return EXIT_USAGE;
  }

  const logger = await createLogger(p.logLevel, stderr);
  let store: Store | undefined;
  let running: RunningControlService;
  try {
    mkdirSync(p.dataDir, { recursive: true });
    const serviceId = serviceIdFor(p.dataDir, p.options.service_id);
    store = await createStore(p.database);
    running = await startControlService({
      host: p.options.host,
      port: p.options.port,
      store,
      serviceId,
      apiKeys: p.apiKeys,
      defaults: { tree: p.deploymentTree, defaultType: p.deploymentType },
      defaultTtlSec: p.options.default_ttl,
      maxTtlSec: p.options.max_ttl,
      maxSandboxes: p.options.max_sandboxes,
      maxSandboxesPerKey: p.options.max_sandboxes_per_key,
      logger,
      bodyLimitBytes: p.options.body_limit,
      scale: p.scale,
      ...(p.options.public_url ? { publicUrl: p.options.public_url } : {}),
    });
    const r = running.reconciled;
    stdout.write(`swerex serve listening on ${running.url}\n`);
    const where = sqlitePath(p.database) ?? redactDatabaseUrl(p.database);
    stdout.write(
      `swerex serve data: ${p.dataDir} (store ${store.kind}: ${where}; service id ${serviceId})\n`,
    );
    logger.info(
      { adopted: r.adopted.length, lost: r.lost.length, orphans_removed: r.orphansRemoved.length },
      `ready on ${running.url}`,
    );
  } catch (err) {
    stderr.write(`swerex serve: cannot start: ${(err as Error).message}\n`);
    await store?.close().catch(() => undefined);
    return EXIT_FAILURE;
  }

  // SIGINT/SIGTERM: the dispatcher's clean-up calls stop() (bounded), then exits 130/143.
  let stopping: Promise<void> | undefined;
  const stoppable = {
    stop: () => {
      stopping ??= (async () => {
        logger.info(
          { stop_sandboxes: p.options.stop_on_exit },
          "shutting down: finishing requests in flight",
        );
        await running.close({ stopSandboxes: p.options.stop_on_exit });
        await store?.close();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
  registerDeployment(stoppable);
  await new Promise<void>((resolveWait) => {
    if (ctx.signal?.aborted) resolveWait();
    ctx.signal?.addEventListener("abort", () => resolveWait(), { once: true });
  });
  await stoppable.stop();
  unregisterDeployment(stoppable);
  return 0;
}
