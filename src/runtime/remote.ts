/** RemoteRuntime: the HTTP client of `swerex-remote` (see remote/runtime.ts for the design and extension points). */
export { zipDirectory } from "./remote/archive.js";
export {
  apiUrlOf,
  normalizeHost,
  RemoteRuntimeConfig,
  type RemoteRuntimeConfigInput,
} from "./remote/config.js";
export { commandDeadlineMs, interruptWorkSeconds, plainDeadlineMs } from "./remote/deadline.js";
export { isTransientTransportError, nextBackoff, RETRY_STATUSES } from "./remote/retry.js";
export {
  describeTransportError,
  MAX_HOOK_RETRIES,
  RemoteHttpError,
  type RemoteRequest,
  RemoteRuntime,
  type RemoteRuntimeOptions,
} from "./remote/runtime.js";
