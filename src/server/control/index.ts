/** The control-plane HTTP API (`swerex serve`): routes, auth, OpenAPI, metrics, runtime pass-through. */
export {
  CONTROL_REDACT_PATHS,
  type ControlServer,
  type ControlServerOptions,
  createControlServer,
  DEFAULT_BODY_LIMIT_BYTES,
} from "./app.js";
export { apiKeysChecker } from "./auth.js";
export { type ControlMetrics, createControlMetrics } from "./metrics.js";
export { openApiDocument } from "./openapi.js";
export { CreateSandboxBody, ErrorBody, LeaseBody, Sandbox, SandboxList } from "./schemas.js";
export { type ControlServiceOptions, type RunningControlService, startControlService } from "./service.js";
export { sandboxWire } from "./wire.js";
