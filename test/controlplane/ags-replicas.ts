/**
 * Two (or more) `swerex serve` replicas on one PostgreSQL database placing `tencentags` sandboxes on one
 * AGS emulator, with `api_rate_limit` equal to the emulator's per-action limit: the set-up of the shared
 * AGS rate-limit test and of bench/scale.ts row (c).
 */
import { SECRET_ID, SECRET_KEY } from "../ags/emulator-helpers.js";
import { api, startServeWithConfig, testServiceId } from "./serve.js";

export interface AgsReplicas {
  call(replica: number, method: string, path: string, body?: unknown): ReturnType<typeof api>;
  outputs(): string[];
  remove(): Promise<void>;
}

export async function startAgsReplicas(opts: {
  count: number;
  key: string;
  databaseUrl: string;
  emulator: { endpoint: string; domain: string };
  rateLimit: number;
  logLevel?: string;
}): Promise<AgsReplicas> {
  const serviceId = testServiceId();
  const replicas: Awaited<ReturnType<typeof startServeWithConfig>>[] = [];
  const remove = async () => {
    await Promise.allSettled(replicas.map((r) => r.remove()));
  };
  try {
    for (let i = 0; i < opts.count; i++) {
      replicas.push(
        await startServeWithConfig(
          {},
          {
            keys: [opts.key],
            serviceId,
            env: { TENCENTCLOUD_SECRET_ID: SECRET_ID, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
            args: [
              ...(opts.logLevel ? ["--log_level", opts.logLevel] : []),
              "--max_sandboxes",
              "0",
              "--database",
              opts.databaseUrl,
              "--instances.deployment.type=tencentags",
              `--instances.deployment.http_endpoint=${opts.emulator.endpoint}`,
              `--instances.deployment.gateway_address=${opts.emulator.endpoint}`,
              `--instances.deployment.domain=${opts.emulator.domain}`,
              `--instances.deployment.api_rate_limit=${opts.rateLimit}`,
              "--instances.deployment.startup_timeout=120",
              "--instances.deployment.runtime_timeout=30",
            ],
          },
        ),
      );
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    call: (i, method, path, body) =>
      api(replicas[i]?.url ?? "", method, path, { key: opts.key, ...(body !== undefined ? { body } : {}) }),
    outputs: () => replicas.map((r) => r.output()),
    remove,
  };
}
