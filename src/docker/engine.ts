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
