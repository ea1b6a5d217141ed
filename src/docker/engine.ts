/**
 * Small helpers over dockerode (the Docker Engine API client), shared by the Docker deployment, the reaper
 * and the bundle image builder; a leaf module, so none of those depend on each other through it.
 */
import Docker from "dockerode";

let shared: Docker | undefined;

/** One client per process; dockerode reads DOCKER_HOST (unix socket or tcp), else /var/run/docker.sock. */
export function sharedDockerClient(): Docker {
  shared ??= new Docker();
  return shared;
}

/** The Engine API's HTTP status on a dockerode error, if any. */
export function engineStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The engine's own message on a dockerode error ("No such image: ..."), falling back to the JS message. */
export function engineMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === "string") return json.message;
  return err instanceof Error ? err.message : String(err);
}

/** Where dockerode connects: DOCKER_HOST, or its default socket when that is unset. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** The engine address we try, as a user would write it in DOCKER_HOST. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST?.trim();
  return host ? host : `unix://${DEFAULT_DOCKER_SOCKET} (the default; DOCKER_HOST is unset)`;
}

/** Socket-level failures: nothing answered at the engine address (as opposed to an engine that said no). */
const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EACCES",
  "EPERM",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
]);

/** Whether `err` says no Docker engine answered (no socket, refused, no permission, unknown host). */
export function isEngineUnreachable(err: unknown): boolean {
  if (engineStatus(err) !== undefined) return false;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && UNREACHABLE_CODES.has(code);
}

/**
 * A user-facing explanation when `err` means no engine answered, else "": the address tried, why, and how
 * to point at (or start) an engine. Ends with a newline when not empty.
 */
export function dockerUnreachableHint(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (!isEngineUnreachable(err)) return "";
  const code = (err as { code: string }).code;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "permission denied on the socket (run as root, or join the docker group)"
      : code === "ENOENT"
        ? "no socket there"
        : code;
  return (
    `No Docker engine is reachable at ${engineEndpoint(env)}: ${why}.\n` +
    "Point DOCKER_HOST at a running engine (export DOCKER_HOST=unix:///path/to/docker.sock, or " +
    "tcp://HOST:2375), or install and start one (Debian: apt-get install docker.io; then " +
    "systemctl start docker, or run dockerd in the background). See docs/docker.md.\n"
  );
}

/** Answers within `timeoutMs` or throws: whether an engine is reachable at all. */
export async function pingEngine(docker: Docker, timeoutMs = 5000): Promise<void> {
  // The typings omit ping's options; dockerode passes `abortSignal` through to the request.
  const ping = docker.ping.bind(docker) as unknown as (opts: {
    abortSignal: AbortSignal;
  }) => Promise<unknown>;
  await ping({ abortSignal: AbortSignal.timeout(timeoutMs) });
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if (engineStatus(err) === 404) return false;
    throw err;
  }
}

interface ProgressEvent {
  status?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Reads a pull/build/import progress stream to its end. The engine reports failures inside the stream with
 * HTTP 200, so an `error` event becomes a thrown Error here.
 */
export function followProgress(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent?: (e: ProgressEvent) => void,
): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: ProgressEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error || e.errorDetail?.message);
        if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve(events);
      },
      onEvent,
    );
  });
}

/** Splits a non-tty container log buffer (8-byte frame headers) into text; a tty log is returned as is. */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if (kind !== 0 && kind !== 1 && kind !== 2) return buf.toString("utf8");
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
