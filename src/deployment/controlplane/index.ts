export {
  ControlPlaneApiError,
  ControlPlaneClient,
  type ControlPlaneClientOptions,
  ControlPlaneUnavailableError,
  type CreateSandboxRequest,
  type ListSandboxesQuery,
  SandboxPage,
  SandboxResource,
  toEpochMs,
} from "./client.js";
export {
  ControlPlaneDeploymentConfig,
  type ControlPlaneDeploymentConfigInput,
  type ControlPlaneEndpoint,
  resolveControlPlaneEndpoint,
} from "./config.js";
export { ControlPlaneDeployment, type ControlPlaneDeploymentOptions } from "./deployment.js";
