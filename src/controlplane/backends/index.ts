/** The backends a service can run sandboxes on, by deployment type. */
import type { Logger } from "pino";
import { DockerBackend } from "./docker.js";
import { DummyBackend } from "./dummy.js";
import { LocalBackend } from "./local.js";
import type { BackendAdapter } from "./types.js";

export type {
  BackendAdapter,
  BackendResource,
  ProbeResult,
  RuntimeTarget,
  StartContext,
} from "./types.js";
export { DockerBackend, DummyBackend, LocalBackend };

export interface BackendSetOptions {
  serviceId: string;
  logger: Logger;
}

/** One adapter per deployment type the service serves. */
export function createBackends(opts: BackendSetOptions): Map<string, BackendAdapter> {
  const all: BackendAdapter[] = [
    new DockerBackend({ serviceId: opts.serviceId, logger: opts.logger.child({ backend: "docker" }) }),
    new LocalBackend(),
    new DummyBackend(),
  ];
  return new Map(all.map((b) => [b.type, b]));
}
