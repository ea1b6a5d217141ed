/** Shared setup for the AGS integration tests: the emulator, sandbox backends, configs and log capture. */
import { Writable } from "node:stream";
import type { Logger } from "pino";
import type { TencentAGSDeploymentConfigInput } from "../../src/deployment/ags/config.js";
import { createAgsLogger } from "../../src/deployment/ags/log.js";
import type {
  AgsEmulator,
  AgsEmulatorOptions,
  BackendHandle,
  SandboxBackend,
} from "../../src/emulator/ags/index.js";
import { startAgsEmulator } from "../../src/emulator/ags/index.js";
import { type RunningRuntimeServer, startRuntimeServer } from "../../src/server/index.js";

export const SECRET_ID = "AKIDswerexts-e2-test";
export const SECRET_KEY = "e2-secret-key-MUST-NOT-LEAK-7f3a9c";

/**
 * Every instance is a real swerex-remote server on loopback, run inside the test process: the scale tests
 * start a hundred of them, which as separate processes would not fit two cores.
 */
export function inProcessBackend(): SandboxBackend & { servers: Set<RunningRuntimeServer> } {
  const servers = new Set<RunningRuntimeServer>();
  return {
    kind: "local",
    servers,
    async start(spec) {
      spec.signal.throwIfAborted();
      const server = await startRuntimeServer({ authToken: "" });
      servers.add(server);
      let stopped = false;
      const declared = new Set(spec.ports);
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        servers.delete(server);
        await server.close();
      };
      const handle: BackendHandle = {
        target: (port) =>
          declared.size === 0 || declared.has(port) ? { host: "127.0.0.1", port: server.port } : undefined,
        isAlive: async () => !stopped,
        pause: async () => undefined,
        resume: async () => undefined,
        stop,
        kill: stop,
      };
      return handle;
    },
    async close() {
      await Promise.allSettled([...servers].map((s) => s.close()));
    },
  };
}

export function startEmulator(opts: Partial<AgsEmulatorOptions> = {}): Promise<AgsEmulator> {
  return startAgsEmulator({
    credentials: [{ secretId: SECRET_ID, secretKey: SECRET_KEY }],
    sweepIntervalMs: 100,
    latency: { toolMs: 200, startMs: [50, 150] },
    ...opts,
  });
}

/** A deployment config pointing at the emulator (credentials in the config, not the environment). */
export function emulatorConfig(
  emu: AgsEmulator,
  extra: TencentAGSDeploymentConfigInput = {},
): TencentAGSDeploymentConfigInput {
  return {
    secret_id: SECRET_ID,
    secret_key: SECRET_KEY,
    http_endpoint: emu.endpoint,
    domain: emu.domain,
    startup_timeout: 120,
    runtime_timeout: 30,
    timeout: "30m",
    ...extra,
  };
}

/** A logger at debug level whose every line lands in `lines`. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createAgsLogger(stream, "debug"), lines };
}

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function instanceStatus(emu: AgsEmulator, id: string | undefined): string | undefined {
  return emu.listInstances().find((i) => i.InstanceId === id)?.Status as string | undefined;
}
