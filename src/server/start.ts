/** Runs the runtime server inside this process (tests, embedding, the `swerex-remote` CLI). */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Runtime } from "../runtime/runtime.js";
import { createDefaultRuntime } from "./default-runtime.js";
import { createRuntimeServer, type RuntimeServerOptions } from "./runtime-server.js";

export interface StartRuntimeServerOptions
  extends Partial<
    Pick<RuntimeServerOptions, "requestIdCache" | "bodyLimitBytes" | "uploadLimitBytes" | "unzipLimitBytes">
  > {
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  authToken: string;
  /** Default: a new LocalRuntime, which `close()` also closes. A runtime you pass stays yours to close. */
  runtime?: Runtime;
  logger?: Logger;
  /** Limits of the runtime created here (ignored with `runtime`). */
  runtimeLimits?: { maxSessions?: number; maxOutput?: number };
}

export interface RunningRuntimeServer {
  /** Where a client on this machine reaches the server (a wildcard host becomes loopback). */
  url: string;
  port: number;
  app: FastifyInstance;
  runtime: Runtime;
  /** Stops listening; closes the runtime if this call created it. Idempotent. */
  close(): Promise<void>;
}

/** `http://host:port`, with IPv6 hosts in brackets. */
export function formatHttpUrl(host: string, port: number): string {
  return host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** A host a local client can connect to when the server listens on a wildcard address. */
export function connectableHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}

export async function startRuntimeServer(opts: StartRuntimeServerOptions): Promise<RunningRuntimeServer> {
  const ownsRuntime = opts.runtime === undefined;
  const runtime = opts.runtime ?? createDefaultRuntime(opts.logger, opts.runtimeLimits);
  const app = createRuntimeServer({ ...opts, runtime, authToken: opts.authToken });
  const host = opts.host ?? "127.0.0.1";
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (err) {
    if (ownsRuntime) await runtime.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : (opts.port ?? 0);
  let closing: Promise<void> | undefined;
  return {
    url: formatHttpUrl(connectableHost(host), port),
    port,
    app,
    runtime,
    close() {
      closing ??= (async () => {
        try {
          if (ownsRuntime) await runtime.close();
        } finally {
          await app.close();
        }
      })();
      return closing;
    },
  };
}
