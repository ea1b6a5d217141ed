/** The runtime a server gets when the caller does not bring one: bash sessions on this machine. */
import type { Logger } from "pino";
import { LocalRuntime } from "../runtime/local/index.js";
import type { Runtime } from "../runtime/runtime.js";

export function createDefaultRuntime(logger?: Logger): Runtime {
  return new LocalRuntime(logger ? { logger } : {});
}
