import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type SpawnedRuntimeServer,
  type SpawnRuntimeServerOptions,
  spawnRuntimeServerProcess,
} from "../../../server/index.js";
import type { BackendHandle, BackendStartSpec, LoopbackTarget, SandboxBackend } from "./types.js";

/**
 * What a sandbox process sees of this machine's environment: enough to find programs and to print text,
 * nothing else. The emulator's own environment holds credentials (TENCENTCLOUD_SECRET_KEY) that a real
 * sandbox never sees. HOME is the sandbox's own empty directory, as in a fresh image: the user's shell
 * start-up files and history stay out of it.
 */
const PASSED_ENV = ["PATH", "LANG", "LC_ALL", "TZ"] as const;

function sandboxEnv(home: string, declared: { name: string; value: string }[]): Record<string, string> {
  const env: Record<string, string> = { HOME: home };
  for (const k of PASSED_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  if (!env.PATH) env.PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const e of declared) env[e.name] = e.value;
  return env;
}

/** How the local backend starts a runtime server; `spawnRuntimeServerProcess` from src/server by default. */
export type RuntimeServerSpawner = (opts: SpawnRuntimeServerOptions) => Promise<SpawnedRuntimeServer>;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else: still alive.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Signals the server's process group (its bash sessions too), falling back to the process alone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
    return;
  } catch {
    // Not a group leader, or already gone.
  }
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: nothing to signal.
  }
}

/**
 * Runs each instance as a real `swerex-remote` process on loopback, with auth off (the tool's start command
 * is `--auth-token ''`; the gateway token protects it). The tool's image, command and mounts are ignored:
 * every exposed port of the instance reaches that one runtime server.
 */
export class LocalBackend implements SandboxBackend {
  readonly kind = "local" as const;
  private readonly handles = new Set<BackendHandle>();

  constructor(private readonly spawner?: RuntimeServerSpawner) {}

  async start(spec: BackendStartSpec): Promise<BackendHandle> {
    const spawn = this.spawner ?? spawnRuntimeServerProcess;
    spec.signal.throwIfAborted();
    const home = await mkdtemp(join(tmpdir(), "swerex-agsemu-home-"));
    let server: SpawnedRuntimeServer;
    try {
      server = await spawn({ authToken: "", port: 0, env: sandboxEnv(home, spec.env), inheritEnv: false });
    } catch (err) {
      await rm(home, { recursive: true, force: true });
      throw err;
    }
    const declared = new Set(spec.ports);
    const target: LoopbackTarget = { host: "127.0.0.1", port: server.port };
    let stopped = false;
    const handles = this.handles;
    const handle: BackendHandle = {
      target: (port) => (declared.size === 0 || declared.has(port) ? target : undefined),
      isAlive: async () => !stopped && processAlive(server.pid),
      pause: async () => signal(server.pid, "SIGSTOP"),
      resume: async () => signal(server.pid, "SIGCONT"),
      async stop() {
        if (stopped) return;
        stopped = true;
        handles.delete(handle);
        // A stopped (SIGSTOP) process cannot handle SIGTERM until continued.
        signal(server.pid, "SIGCONT");
        await server.stop();
        await rm(home, { recursive: true, force: true });
      },
      async kill() {
        signal(server.pid, "SIGKILL");
        await handle.stop();
      },
    };
    this.handles.add(handle);
    if (spec.signal.aborted) {
      await handle.stop();
      spec.signal.throwIfAborted();
    }
    return handle;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.handles].map((h) => h.stop()));
  }
}
