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
export * from "./controlplane/index.js";
export { BaseDeployment, type Deployment, type DeploymentHook, type StartOptions } from "./deployment.js";
export * from "./docker/index.js";
export { DummyDeployment, DummyDeploymentConfig, type DummyDeploymentConfigInput } from "./dummy.js";
export {
  LocalDeployment,
  LocalDeploymentConfig,
  type LocalDeploymentConfigInput,
  type LocalDeploymentOptions,
} from "./local.js";
export {
  LABEL_KEEP,
  LABEL_MANAGED,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_OWNER_START,
  LABEL_SANDBOX,
  LABEL_SERVICE,
  type OwnerState,
  ownerLabels,
  ownerState,
  serviceLabels,
} from "./owner.js";
export {
  activeDeployments,
  registerDeployment,
  type StoppableDeployment,
  stopAllDeployments,
  unregisterDeployment,
} from "./registry.js";
export { RemoteDeployment, RemoteDeploymentConfig, type RemoteDeploymentConfigInput } from "./remote.js";
