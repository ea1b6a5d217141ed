export { apiKeyChecker } from "./api-key.js";
export { parseRemoteArgs, type RemoteCliArgs, runRemoteCli } from "./remote-cli.js";
export { type CachedReply, RequestIdCache, type RequestIdCacheOptions } from "./request-id-cache.js";
export {
  createRuntimeServer,
  REDACTED_LOG_PATHS,
  RUNTIME_SERVER_ROUTES,
  type RuntimeServerOptions,
} from "./runtime-server.js";
export {
  runtimeServerCommand,
  type SpawnedRuntimeServer,
  type SpawnRuntimeServerOptions,
  spawnRuntimeServerProcess,
} from "./spawn.js";
export {
  connectableHost,
  formatHttpUrl,
  type RunningRuntimeServer,
  type StartRuntimeServerOptions,
  startRuntimeServer,
} from "./start.js";
export { extractZip } from "./unzip.js";
export { RequestValidationError, type ValidationIssue } from "./validation.js";
export { SWEREX_PROTOCOL_VERSION, SWEREX_TS_VERSION } from "./version.js";
