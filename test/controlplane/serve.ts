/**
 * A real `swerex serve` process for the control-plane tests: spawned from the sources (spawnSwerex), with
 * a data directory that may outlive it (restart tests reuse it), several API keys, and a service id of its
 * own (Docker tests count only containers with that label). `api()` is a tiny JSON client.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBundle } from "../docker/fixtures.js";
import { BUSYBOX_IMAGE } from "../docker/images.js";
import { spawnSwerex } from "../helpers/cli.js";

export interface ServeProcess {
  url: string;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 30 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServeOptions {
  dataDir: string;
  keys: string[];
  serviceId: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

const LISTENING = /swerex serve listening on (http:\/\/\S+)/;
const START_TIMEOUT_MS = 90_000;

export async function newDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "swerex-cp-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `swerex serve` arguments for docker sandboxes of the local busybox test image and the current runtime bundle. */
export async function busyboxDockerArgs(image = BUSYBOX_IMAGE): Promise<string[]> {
  return [
    "--instances.deployment.type=docker",
    `--instances.deployment.image=${image}`,
    "--instances.deployment.pull=never",
    `--instances.deployment.runtime_mount=${await testBundle()}`,
    "--instances.deployment.startup_timeout=120",
    "--instances.deployment.memory_limit=256m",
  ];
}

export function testServiceId(): string {
  return `test-${randomUUID().slice(0, 13)}`;
}

export async function startServe(opts: ServeOptions): Promise<ServeProcess> {
  const proc = spawnSwerex(
    [
      "serve",
      "--port",
      "0",
      "--data_dir",
      opts.dataDir,
      "--service_id",
      opts.serviceId,
      "--log_level",
      "debug",
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, SWEREX_API_KEYS: opts.keys.join(","), ...opts.env }, timeoutMs: 60 * 60_000 },
  );
  proc.done.catch(() => undefined);
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill(signal);
      const killer = setTimeout(() => proc.child.kill("SIGKILL"), 30_000);
      const code = await proc.exited;
      clearTimeout(killer);
      return code;
    }
    return proc.child.exitCode;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const m = LISTENING.exec(proc.output());
    if (m)
      return {
        url: m[1] as string,
        pid: proc.child.pid as number,
        output: proc.output,
        exited: proc.exited,
        stop,
      };
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(`swerex serve did not start (exit ${proc.child.exitCode}):\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A serve process reading `config` (scale-out keys: docker_hosts, pools, admission, ...) from a config
 * file in a fresh data directory; `remove()` stops it and deletes the directory.
 */
export async function startServeWithConfig(
  config: unknown,
  opts: Omit<ServeOptions, "dataDir">,
): Promise<ServeProcess & { remove(): Promise<void> }> {
  const data = await newDataDir();
  const file = join(data.dir, "serve.json");
  await writeFile(file, JSON.stringify(config));
  const serve = await startServe({
    ...opts,
    dataDir: data.dir,
    args: ["--config", file, ...(opts.args ?? [])],
  });
  return {
    ...serve,
    remove: async () => {
      await serve.stop();
      await data.remove();
    },
  };
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON
  body: any;
  text: string;
}

/** One request; `body` is sent as JSON unless it is a string (sent as is, with the content type given). */
export async function api(
  url: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined) headers["x-api-key"] = opts.key;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${url}${path}`, { method, headers, body, signal: AbortSignal.timeout(180_000) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
