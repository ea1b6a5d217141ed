/**
 * `swerex ags-emulator --secret-id ID --secret-key KEY [--port P] [--domain D] [--backend local|docker]`:
 * runs the local AGS control plane + sandbox gateway until SIGINT/SIGTERM, then stops every sandbox it
 * started.
 */
import { parseArgs } from "node:util";
import { registerDeployment, unregisterDeployment } from "../../deployment/registry.js";
import { DEFAULT_AGS_DOMAIN, startAgsEmulator } from "../../emulator/ags/index.js";
import { redactHeaders } from "../../log/index.js";
import type { CommandContext } from "../context.js";

export const description = "run a local Tencent AGS emulator (TC3-signed control plane + sandbox gateway)";

const USAGE = `Usage: swerex ags-emulator --secret-id ID --secret-key KEY [flags]

Runs the AGS control plane (POST /, TC3-HMAC-SHA256) and the sandbox gateway ({port}-{instanceId}.{domain})
on one loopback port until SIGINT/SIGTERM. See docs/ags-emulator.md.

Flags:
  --secret-id ID          accepted SecretId (env TENCENTCLOUD_SECRET_ID)
  --secret-key KEY        its SecretKey (env TENCENTCLOUD_SECRET_KEY; prefer the env var: argv is visible in ps)
  --port P                listen port (default 0: a free port)
  --host H                listen address (default 127.0.0.1)
  --domain D              data-plane domain (default ${DEFAULT_AGS_DOMAIN})
  --backend B             local (a swerex-remote process per instance, default) or docker
  --token-ttl S           token lifetime in seconds (default 3600)
  --instance-quota N      live instances allowed (default 100)
  --rate-limit N          requests per second per action (default 20)
  --start-latency MIN,MAX extra STARTING time in ms (default 0,0)
  --timestamp-style S     Z (default) or +08:00
`;

function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name} must be a non-negative number, got "${value}"`);
  return n;
}

export async function run(argv: string[], ctx: CommandContext = {}): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "secret-id": { type: "string" },
        "secret-key": { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        domain: { type: "string" },
        backend: { type: "string" },
        "token-ttl": { type: "string" },
        "instance-quota": { type: "string" },
        "rate-limit": { type: "string" },
        "start-latency": { type: "string" },
        "timestamp-style": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`swerex ags-emulator: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const str = (k: string) => values[k] as string | undefined;
  const secretId = str("secret-id") ?? process.env.TENCENTCLOUD_SECRET_ID;
  const secretKey = str("secret-key") ?? process.env.TENCENTCLOUD_SECRET_KEY;
  if (!secretId || !secretKey) {
    process.stderr.write(`swerex ags-emulator: --secret-id and --secret-key are required\n\n${USAGE}`);
    return 2;
  }
  const backend = str("backend") ?? "local";
  if (backend !== "local" && backend !== "docker") {
    process.stderr.write(`swerex ags-emulator: --backend must be local or docker, got "${backend}"\n`);
    return 2;
  }
  const style = str("timestamp-style") ?? "Z";
  if (style !== "Z" && style !== "+08:00") {
    process.stderr.write(`swerex ags-emulator: --timestamp-style must be Z or +08:00, got "${style}"\n`);
    return 2;
  }
  let opts: Parameters<typeof startAgsEmulator>[0];
  try {
    const latency = (str("start-latency") ?? "0,0").split(",").map((v) => intFlag("start-latency", v, 0));
    opts = {
      credentials: [{ secretId, secretKey }],
      port: intFlag("port", str("port"), 0),
      host: str("host") ?? "127.0.0.1",
      domain: str("domain") ?? DEFAULT_AGS_DOMAIN,
      backend,
      tokenTtlSeconds: intFlag("token-ttl", str("token-ttl"), 3600),
      instanceQuota: intFlag("instance-quota", str("instance-quota"), 100),
      defaultRateLimit: intFlag("rate-limit", str("rate-limit"), 20),
      latency: { startMs: [latency[0] ?? 0, latency[1] ?? latency[0] ?? 0] },
      timestampStyle: style,
      logger: {
        info: () => undefined,
        warn: (obj, msg) =>
          process.stderr.write(`ags-emulator: ${msg ?? ""} ${JSON.stringify(redactHeaders(obj))}\n`),
      },
    };
  } catch (err) {
    process.stderr.write(`swerex ags-emulator: ${(err as Error).message}\n`);
    return 2;
  }
  const emu = await startAgsEmulator(opts);
  // The dispatcher stops registered deployments on SIGINT/SIGTERM before exiting: the emulator's sandboxes too.
  const registration = { stop: () => emu.close() };
  registerDeployment(registration);
  process.stdout.write(
    [
      `AGS emulator listening on ${emu.endpoint}`,
      `endpoint: ${emu.endpointHost} (SDK: httpProfile.endpoint="${emu.endpointHost}", protocol "http://")`,
      `domain: ${emu.domain}`,
      `instances: https://{port}-{instanceId}.${emu.domain} -> ${emu.gatewayUrl} (Host header routing)`,
      `backend: ${backend}`,
      "",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    const done = () => {
      ctx.signal?.removeEventListener("abort", done);
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    if (ctx.signal?.aborted) return done();
    ctx.signal?.addEventListener("abort", done, { once: true });
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await emu.close();
  unregisterDeployment(registration);
  return 0;
}
