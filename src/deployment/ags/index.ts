export { AgsClient, type AgsClientOptions, resetSharedAgsClients, sharedAgsClient } from "./client.js";
export {
  type AgsCredentials,
  resolveAgsCredentials,
  TencentAGSDeploymentConfig,
  type TencentAGSDeploymentConfigInput,
} from "./config.js";
export { TencentAGSDeployment, type TencentAGSDeploymentOptions } from "./deployment.js";
export { AgsInstanceStateError, AgsRequestError, AgsTimeoutError, AgsToolFailedError } from "./errors.js";
export { type AgsGcOptions, type AgsGcReport, agsGc } from "./gc.js";
export { AGS_REDACT_PATHS, createAgsLogger } from "./log.js";
export { InstanceTokenProvider, parseExpiresAt } from "./token.js";
export type { AgsAction, AgsActions, SandboxInstance, SandboxTool } from "./types.js";
