/**
 * `swerex ags gc [flags]`: stops the AGS instances swerex-ts processes left behind (their owner is gone)
 * and deletes swerex-ts SandboxTools that no live instance uses. One line per instance and tool on stdout.
 */
import { parseArgs } from "node:util";
import {
  agsGc,
  resolveAgsCredentials,
  sharedAgsClient,
  TencentAGSDeploymentConfig,
} from "../../deployment/ags/index.js";

export const description =
  "AGS maintenance: `swerex ags gc` stops orphaned instances and deletes unused tools";

const USAGE = `Usage: swerex ags gc [--dry-run] [--all] [--keep-tools] [--http_endpoint=HOST] [--region=REGION] [--skip_ssl_verify]

Stops AGS instances that swerex-ts started and whose owner process is gone, then deletes the swerex-ts
SandboxTools that no live instance uses. Credentials: TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY.

Flags:
  --dry-run              list what would be done, change nothing
  --all                  stop every swerex-ts instance, also those whose owner still runs
  --keep-tools           do not delete tools
  --http_endpoint=HOST   control-plane endpoint (default ags.tencentcloudapi.com; http://host:port for the emulator)
  --region=REGION        default ap-chongqing
  --skip_ssl_verify      do not verify the endpoint's TLS certificate
`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "-h" || sub === "--help" || sub === undefined) {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "gc") {
    process.stderr.write(`swerex ags: unknown subcommand ${JSON.stringify(sub)}\n${USAGE}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        "dry-run": { type: "boolean" },
        all: { type: "boolean" },
        "keep-tools": { type: "boolean" },
        http_endpoint: { type: "string" },
        region: { type: "string" },
        skip_ssl_verify: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`swerex ags gc: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = TencentAGSDeploymentConfig.parse({
    ...(values.http_endpoint ? { http_endpoint: values.http_endpoint } : {}),
    ...(values.region ? { region: values.region } : {}),
    ...(values.skip_ssl_verify ? { skip_ssl_verify: true } : {}),
  });
  const creds = resolveAgsCredentials(config);
  if (!creds.secretId || !creds.secretKey) {
    process.stderr.write("swerex ags gc: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY\n");
    return 2;
  }
  const client = sharedAgsClient({
    secretId: creds.secretId,
    secretKey: creds.secretKey,
    region: config.region,
    endpoint: config.http_endpoint,
    skipSslVerify: config.skip_ssl_verify,
    rateLimit: config.api_rate_limit,
  });
  const dryRun = values["dry-run"] === true;
  try {
    const report = await agsGc(client, {
      all: values.all === true,
      dryRun,
      keepTools: values["keep-tools"] === true,
    });
    let failed = 0;
    for (const i of report.instances) {
      if (i.action === "failed") failed++;
      const why = i.error ? ` (${i.error})` : "";
      process.stdout.write(
        `${i.action} instance ${i.instanceId} tool=${i.toolId} status=${i.status} owner=${i.owner} (${i.ownerState})${why}\n`,
      );
    }
    for (const t of report.tools) {
      if (t.action === "failed") failed++;
      const why = t.reason ? ` (${t.reason})` : "";
      process.stdout.write(`${t.action} tool ${t.toolId} ${t.toolName}${why}\n`);
    }
    process.stderr.write(
      `swerex ags gc: ${report.instances.length} instance(s), ${report.tools.length} tool(s)${dryRun ? " (dry run)" : ""}\n`,
    );
    return failed > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`swerex ags gc: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
