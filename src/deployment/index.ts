export * from "./ags/index.js";
export {
  DEPLOYMENT_CONFIGS,
  DeploymentConfig,
  type DeploymentConfigInput,
  type DeploymentType,
  deploymentTypes,
  getDeployment,
  type ParseDeploymentConfigOptions,
  parseDeploymentConfig,
} from "./config.js";
export { BaseDeployment, type Deployment, type DeploymentHook, type StartOptions } from "./deployment.js";
export * from "./docker/index.js";
export { DummyDeployment, DummyDeploymentConfig, type DummyDeploymentConfigInput } from "./dummy.js";
export {
  LocalDeployment,
  LocalDeploymentConfig,
  type LocalDeploymentConfigInput,
  type LocalDeploymentOptions,
} from "./local.js";
export { RemoteDeployment, RemoteDeploymentConfig, type RemoteDeploymentConfigInput } from "./remote.js";
