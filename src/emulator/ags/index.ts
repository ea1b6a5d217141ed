export {
  createHostRoutingDispatcher as createEmulatorDispatcher,
  createHostRoutingHttpAgent as createEmulatorHttpAgent,
  type HostRoutingOptions as EmulatorRoutingOptions,
} from "../../net/index.js";
export { AgsApiError } from "./api-error.js";
export { LocalBackend, type RuntimeServerSpawner } from "./backends/local.js";
export type {
  BackendHandle,
  BackendStartSpec,
  LoopbackTarget,
  ResolvedImageMount,
  SandboxBackend,
} from "./backends/types.js";
export type { EmulatorLogger } from "./context.js";
export { AGS_API_VERSION } from "./control-plane.js";
export { parseAgsDuration } from "./duration.js";
export {
  type AgsEmulator,
  type AgsEmulatorAction,
  type AgsEmulatorCredential,
  type AgsEmulatorFault,
  type AgsEmulatorOptions,
  DEFAULT_AGS_DOMAIN,
  DEFAULT_AGS_REGIONS,
  startAgsEmulator,
} from "./emulator.js";
export { parseGatewayHost } from "./gateway.js";
export { signTc3, type Tc3SignInput, tc3Date, verifyTc3 } from "./tc3.js";
