/** The control plane's domain (no HTTP): sandbox records and their states, backends, leases, reconciliation. */
export {
  type BackendAdapter,
  type BackendResource,
  createBackends,
  DockerBackend,
  DummyBackend,
  LocalBackend,
  type ProbeResult,
  type RuntimeTarget,
  type StartContext,
} from "./backends/index.js";
export { type DeploymentDefaults, resolveDeployment } from "./deployments.js";
export { errorInfo, ServiceError, type ServiceErrorCode } from "./errors.js";
export { keyFingerprint, newSandboxId, SANDBOX_ID_PATTERN } from "./ids.js";
export { REAP_INTERVAL_MS, Reaper, type ReaperOptions } from "./reaper.js";
export { type ReconcileReport, reconcile } from "./reconcile.js";
export {
  type CreateResult,
  type CreateSandboxRequest,
  type ListSandboxesRequest,
  type SandboxEvents,
  SandboxService,
  type SandboxServiceOptions,
} from "./sandboxes.js";
export { isSecretKey, withoutSecrets } from "./secrets.js";
export {
  ACTIVE_STATES,
  canTransition,
  InvalidTransitionError,
  isTerminal,
  TERMINAL_STATES,
  transition,
} from "./states.js";
