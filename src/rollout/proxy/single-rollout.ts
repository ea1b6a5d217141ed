/**
 * The seed's single-rollout form: a proxy on port 8080 whose plain `/v1` base URL belongs to one default
 * session; when 8080 is taken it tries 8081, 8082, ... (the seed's automatic port fallback).
 */
import { type ModelProxy, type ModelProxyOptions, startModelProxy } from "./model-proxy.js";
import type { OpenSessionOptions } from "./session.js";

export interface SingleRolloutProxyOptions extends Omit<ModelProxyOptions, "port" | "defaultSession"> {
  /** First port tried. Default 8080. */
  basePort?: number;
  /** How many ports after `basePort` to try when taken. Default 100. */
  maxPortRetries?: number;
  /** The rollout's session (its id defaults to `default`). */
  session?: { id?: string } & OpenSessionOptions;
}

export const DEFAULT_BASE_PORT = 8080;
export const DEFAULT_MAX_PORT_RETRIES = 100;

/** A proxy on the first free port from `basePort`; its `defaultSession` takes every call to `url + "/v1"`. */
export async function startSingleRolloutProxy(opts: SingleRolloutProxyOptions): Promise<ModelProxy> {
  const { basePort = DEFAULT_BASE_PORT, maxPortRetries = DEFAULT_MAX_PORT_RETRIES, session, ...rest } = opts;
  return listenWithPortFallback(basePort, maxPortRetries, (port) =>
    startModelProxy({ ...rest, port, defaultSession: session ?? {} }),
  );
}

/** Calls `start(port)` for `basePort`, `basePort + 1`, ... while it fails with EADDRINUSE. */
export async function listenWithPortFallback<T>(
  basePort: number,
  maxPortRetries: number,
  start: (port: number) => Promise<T>,
): Promise<T> {
  let lastErr: unknown;
  for (let port = basePort; port <= Math.min(basePort + maxPortRetries, 65535); port++) {
    try {
      return await start(port);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "EADDRINUSE") throw err;
      lastErr = err;
    }
  }
  throw new Error(`no free port in ${basePort}..${basePort + maxPortRetries}`, { cause: lastErr });
}
