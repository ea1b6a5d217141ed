/** What a backend needs to run one sandbox instance (the tool's configuration merged with the start overrides). */
export interface BackendStartSpec {
  instanceId: string;
  toolId: string;
  image?: string;
  command?: string[];
  args?: string[];
  env: { name: string; value: string }[];
  /** Container ports the tool declares (CustomConfiguration.Ports); empty = the backend's default. */
  ports: number[];
  mounts: ResolvedImageMount[];
  signal: AbortSignal;
}

/** An image storage mount after MountOptions were applied. */
export interface ResolvedImageMount {
  name: string;
  reference: string;
  subPath: string;
  mountPath: string;
  readOnly: boolean;
}

export interface LoopbackTarget {
  host: string;
  port: number;
}

/** One running sandbox. Every method is bounded; stop() is idempotent and never throws for a dead sandbox. */
export interface BackendHandle {
  /** Where the gateway forwards traffic for a sandbox port; undefined when the port is not exposed. */
  target(port: number): LoopbackTarget | undefined;
  isAlive(): Promise<boolean>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Graceful stop and cleanup. */
  stop(): Promise<void>;
  /** Abrupt death (fault injection): the sandbox disappears without a graceful stop. */
  kill(): Promise<void>;
}

export interface SandboxBackend {
  readonly kind: "local" | "docker";
  start(spec: BackendStartSpec): Promise<BackendHandle>;
  /** Removes anything the backend created that outlives instances (volumes, cached images). */
  close(): Promise<void>;
}
