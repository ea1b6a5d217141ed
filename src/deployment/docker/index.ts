export {
  DockerArgsError,
  DockerDeploymentConfig,
  type DockerDeploymentConfigInput,
  extractPlatformArg,
} from "./config.js";
export { containerNameFor, DockerDeployment, type DockerDeploymentOptions } from "./deployment.js";
export { applyDockerArgs, type ContainerSettings, SUPPORTED_DOCKER_ARGS } from "./docker-args.js";
export { pingEngine, sharedDockerClient } from "./engine.js";
export {
  LABEL_KEEP,
  LABEL_MANAGED,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_OWNER_START,
  ownerState,
} from "./owner.js";
export { parseSize } from "./units.js";
