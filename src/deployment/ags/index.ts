export * as AgsApiRules from "./api-rules.js";
export { AgsClient, type AgsClientOptions, resetSharedAgsClients, sharedAgsClient } from "./client.js";
export {
  type AgsCredentials,
  type AgsMountConfig,
  type AgsMountOptionConfig,
  credentialOverrideMessages,
  type ResolvedAgsCredentials,
  resolveAgsCredentials,
  TencentAGSDeploymentConfig,
  type TencentAGSDeploymentConfigInput,
} from "./config.js";
export { TencentAGSDeployment, type TencentAGSDeploymentOptions } from "./deployment.js";
export {
  AgsInstanceStateError,
  AgsQuotaError,
  AgsRequestError,
  AgsTimeoutError,
  AgsToolFailedError,
} from "./errors.js";
export { AgsGatewayError } from "./gateway-check.js";
export { type AgsGcOptions, type AgsGcReport, agsGc } from "./gc.js";
export { AGS_REDACT_PATHS, createAgsLogger } from "./log.js";
export { type PrecacheProgress, type PrecacheResult, precacheImages } from "./precache.js";
export type { AgsPacer, PaceRequest } from "./rate-limit.js";
export { InstanceTokenProvider, parseExpiresAt } from "./token.js";
export type { AgsAction, AgsActions, SandboxInstance, SandboxTool } from "./types.js";
