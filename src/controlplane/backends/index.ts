/** The backends a service can run sandboxes on, by deployment type. */
import type { Logger } from "pino";
import type { AgsPacer } from "../../deployment/ags/rate-limit.js";
import { DockerBackend } from "./docker.js";
import { DummyBackend } from "./dummy.js";
import { LocalBackend } from "./local.js";
import { TencentAgsBackend } from "./tencentags.js";
import type { BackendAdapter } from "./types.js";

export type {
  BackendAdapter,
  BackendResource,
  ProbeResult,
  RuntimeTarget,
  StartContext,
} from "./types.js";
export { DockerBackend, DummyBackend, LocalBackend, TencentAgsBackend };

export interface BackendSetOptions {
  serviceId: string;
  logger: Logger;
  /** AGS credentials of the service's default config (the environment's win), for adopted instances. */
  agsCredentials?: { secret_id?: string; secret_key?: string };
  /** Paces AGS API calls (replicas on PostgreSQL share the store's bucket); default: per process. */
  agsPacer?: AgsPacer;
}

/** One adapter per deployment type the service serves. */
export function createBackends(opts: BackendSetOptions): Map<string, BackendAdapter> {
  const all: BackendAdapter[] = [
    new DockerBackend({ serviceId: opts.serviceId, logger: opts.logger.child({ backend: "docker" }) }),
    new LocalBackend(),
    new DummyBackend(),
    new TencentAgsBackend({
      serviceId: opts.serviceId,
      logger: opts.logger.child({ backend: "tencentags" }),
      ...(opts.agsCredentials ? { credentials: opts.agsCredentials } : {}),
      ...(opts.agsPacer ? { pacer: opts.agsPacer } : {}),
    }),
  ];
  return new Map(all.map((b) => [b.type, b]));
}
