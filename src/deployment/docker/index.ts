export { pingEngine, sharedDockerClient } from "../../docker/engine.js";
export {
  DockerArgsError,
  DockerDeploymentConfig,
  type DockerDeploymentConfigInput,
  extractPlatformArg,
} from "./config.js";
export {
  containerNameFor,
  DockerDeployment,
  type DockerDeploymentOptions,
  type DockerEndpoint,
} from "./deployment.js";
export { applyDockerArgs, type ContainerSettings, SUPPORTED_DOCKER_ARGS } from "./docker-args.js";
export { parseSize } from "./units.js";
