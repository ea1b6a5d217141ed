/** The runtime a server gets when the caller does not bring one: bash sessions on this machine. */
import type { Logger } from "pino";
import { LocalRuntime, type LocalRuntimeOptions } from "../runtime/local/index.js";
import type { Runtime } from "../runtime/runtime.js";

export function createDefaultRuntime(
  logger?: Logger,
  limits: Pick<LocalRuntimeOptions, "maxSessions" | "maxOutput"> = {},
): Runtime {
  return new LocalRuntime({ ...limits, ...(logger ? { logger } : {}) });
}
