export { BaseDeployment, type Deployment, type DeploymentHook, type StartOptions } from "./deployment.js";
