/**
 * `swerex ags gc|precache [flags]`: AGS maintenance with the same `--instances.deployment.<key>` keys (and
 * config file, and SWEREX_* variables) as `swerex run`.
 * - `gc` stops the AGS instances swerex-ts processes left behind (their owner is gone) and deletes
 *   swerex-ts SandboxTools that no live instance uses. One line per instance and tool on stdout.
 * - `precache IMAGE...` pre-caches images on AGS nodes and waits until each is cached, with progress.
 */
import { z } from "zod";
import { ConfigError, loadConfig, parseDottedFlags, zodIssues } from "../../config/index.js";
import {
  type AgsClient,
  agsGc,
  credentialOverrideMessages,
  precacheImages,
  resolveAgsCredentials,
  sharedAgsClient,
  type TencentAGSDeploymentConfig,
} from "../../deployment/ags/index.js";
import { parseDeploymentConfig } from "../../deployment/index.js";
import type { CommandContext } from "../context.js";

export const description =
  "AGS maintenance: `swerex ags gc` stops orphaned instances and deletes unused tools; `swerex ags precache IMAGE...` pre-caches images";

const USAGE = `Usage: swerex ags gc [--dry-run] [--all] [--keep-tools] [--instances.deployment.<key>=<value>...]
       swerex ags precache IMAGE... [--timeout S] [--instances.deployment.<key>=<value>...]

gc        stops AGS instances that swerex-ts started and whose owner process is gone, then deletes the
          swerex-ts SandboxTools that no live instance uses
precache  pre-caches images on AGS nodes (CreatePreCacheImageTask) and waits until each is cached

The deployment keys are those of \`swerex run\` (docs/ags.md): http_endpoint, region, skip_ssl_verify,
secret_id, secret_key, session_token, api_rate_limit, ...; image_registry_type is the registry of the
precached images. Credentials: TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY / TENCENTCLOUD_SESSION_TOKEN.

Flags:
  --dry-run              gc: list what would be done, change nothing
  --all                  gc: stop every swerex-ts instance, also those whose owner still runs
  --keep-tools           gc: do not delete tools
  --timeout S            precache: seconds to wait for all images (default 1800)
  --http_endpoint=HOST   short for --instances.deployment.http_endpoint (also --region, --skip_ssl_verify)
  --config FILE          config file (flags > SWEREX_* env vars > file > defaults)
`;

const EXIT_USAGE = 2;
const SHORTHANDS = ["http_endpoint", "region", "skip_ssl_verify"] as const;

const GcOptions = z.strictObject({
  "dry-run": z.boolean().default(false),
  all: z.boolean().default(false),
  "keep-tools": z.boolean().default(false),
});
const PrecacheOptions = z.strictObject({
  timeout: z.number().positive().default(1800),
});

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface AgsCommandContext extends CommandContext {
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export async function run(argv: string[], ctx: AgsCommandContext = {}): Promise<number> {
  const io: Io = { stdout: ctx.stdout ?? process.stdout, stderr: ctx.stderr ?? process.stderr };
  const [sub, ...rest] = argv;
  if (sub === "-h" || sub === "--help" || sub === undefined) {
    io.stdout.write(USAGE);
    return sub === undefined ? EXIT_USAGE : 0;
  }
  if (sub !== "gc" && sub !== "precache") {
    io.stderr.write(`swerex ags: unknown subcommand ${JSON.stringify(sub)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const own = sub === "gc" ? GcOptions : PrecacheOptions;
  let setup: { client: AgsClient; registryType: string; options: Record<string, unknown>; images: string[] };
  try {
    const flags = parseDottedFlags(rest);
    if (flags.values.help === true) {
      io.stdout.write(USAGE);
      return 0;
    }
    const config = loadConfig({
      argv: flags,
      env: ctx.env,
      accept: ["instances.deployment", ...SHORTHANDS, ...Object.keys(own.shape)],
    });
    const options = Object.fromEntries(Object.keys(own.shape).map((k) => [k, config.values[k]]));
    const parsedOptions = own.safeParse(options);
    if (!parsedOptions.success) {
      throw new ConfigError(zodIssues(parsedOptions.error, { input: options, where: config.where }));
    }
    const raw = { ...((config.get("instances.deployment") as Record<string, unknown>) ?? {}) };
    for (const k of SHORTHANDS) if (config.values[k] !== undefined) raw[k] = config.values[k];
    const deployment = parseDeploymentConfig(raw, {
      defaultType: "tencentags",
      where: (p) =>
        SHORTHANDS.includes(p[0] as (typeof SHORTHANDS)[number]) &&
        config.values[p[0] as string] !== undefined
          ? config.where([p[0] as string])
          : config.where(["instances", "deployment", ...p]),
    });
    if (deployment.type !== "tencentags") {
      throw new ConfigError([
        {
          where: config.where(["instances", "deployment", "type"]),
          message: `swerex ags works on tencentags deployments, got ${JSON.stringify(deployment.type)}`,
        },
      ]);
    }
    const images = sub === "precache" ? flags.positionals : [];
    if (sub === "precache" && images.length === 0) {
      io.stderr.write(`swerex ags precache: no image given\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (sub === "gc" && flags.positionals.length > 0) {
      throw new ConfigError([{ where: flags.positionals[0] as string, message: "gc takes no arguments" }]);
    }
    const client = clientFor(deployment, ctx.env, io);
    if (!client) return EXIT_USAGE;
    setup = { client, registryType: deployment.image_registry_type, options: parsedOptions.data, images };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`swerex ags ${sub}: ${err.message.replaceAll("\n", `\nswerex ags ${sub}: `)}\n`);
    return EXIT_USAGE;
  }
  try {
    return sub === "gc"
      ? await gc(setup.client, setup.options as z.output<typeof GcOptions>, io)
      : await precache(setup, setup.options as z.output<typeof PrecacheOptions>, io, ctx.signal);
  } catch (err) {
    io.stderr.write(`swerex ags ${sub}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    setup.client.close();
  }
}

/** The control-plane client of a deployment config; undefined (after saying why) without credentials. */
function clientFor(config: TencentAGSDeploymentConfig, env: NodeJS.ProcessEnv | undefined, io: Io) {
  const creds = resolveAgsCredentials(config, env);
  for (const line of credentialOverrideMessages(creds)) io.stderr.write(`swerex ags: ${line}\n`);
  if (!creds.secretId || !creds.secretKey) {
    io.stderr.write(
      "swerex ags: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (or --instances.deployment.secret_id/secret_key)\n",
    );
    return undefined;
  }
  return sharedAgsClient({
    secretId: creds.secretId,
    secretKey: creds.secretKey,
    sessionToken: creds.sessionToken || undefined,
    region: config.region,
    endpoint: config.http_endpoint,
    skipSslVerify: config.skip_ssl_verify,
    rateLimit: config.api_rate_limit,
  });
}

async function gc(client: AgsClient, o: z.output<typeof GcOptions>, io: Io): Promise<number> {
  const dryRun = o["dry-run"];
  const report = await agsGc(client, { all: o.all, dryRun, keepTools: o["keep-tools"] });
  let failed = 0;
  for (const i of report.instances) {
    if (i.action === "failed") failed++;
    const why = i.error ? ` (${i.error})` : "";
    io.stdout.write(
      `${i.action} instance ${i.instanceId} tool=${i.toolId} status=${i.status} owner=${i.owner} (${i.ownerState})${why}\n`,
    );
  }
  for (const t of report.tools) {
    if (t.action === "failed") failed++;
    const why = t.reason ? ` (${t.reason})` : "";
    io.stdout.write(`${t.action} tool ${t.toolId} ${t.toolName}${why}\n`);
  }
  io.stderr.write(
    `swerex ags gc: ${report.instances.length} instance(s), ${report.tools.length} tool(s)${dryRun ? " (dry run)" : ""}\n`,
  );
  return failed > 0 ? 1 : 0;
}

async function precache(
  setup: { client: AgsClient; registryType: string; images: string[] },
  o: z.output<typeof PrecacheOptions>,
  io: Io,
  signal: AbortSignal | undefined,
): Promise<number> {
  const deadline = AbortSignal.timeout(o.timeout * 1000);
  const results = await precacheImages(setup.client, setup.images, {
    registryType: setup.registryType,
    signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    onProgress: (p) => io.stderr.write(`swerex ags precache: ${p.image}: ${p.status} ${p.message}\n`),
  }).catch((err: unknown) => {
    if (deadline.aborted) throw new Error(`the images were not all cached within ${o.timeout}s`);
    throw err;
  });
  for (const r of results) {
    io.stdout.write(
      r.ok
        ? `cached ${r.image} ${r.digest}\n`
        : `failed ${r.image} ${r.digest} (${r.status}: ${r.message})\n`,
    );
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
