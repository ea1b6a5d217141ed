/**
 * HTTP deadlines of RemoteRuntime requests. A command's request may take as long as the command may, plus a
 * margin for the server to answer its own timeout; a command with no timeout gets no deadline. Upstream's
 * client silently cut every request at aiohttp's 300 s (SWE-ReX #189, #290); this never does that.
 */
import type { RemoteRuntimeConfig } from "./config.js";

type DeadlineConfig = Pick<RemoteRuntimeConfig, "request_timeout" | "request_timeout_margin">;

/** Milliseconds for a request whose work is bounded by `ownTimeout` seconds (`null`: unbounded). */
export function commandDeadlineMs(ownTimeout: number | null, config: DeadlineConfig): number | null {
  if (ownTimeout === null) return null;
  return Math.round((ownTimeout + config.request_timeout_margin) * 1000);
}

/** Milliseconds for a request with no timeout of its own (files, sessions, close, upload). */
export function plainDeadlineMs(config: DeadlineConfig): number | null {
  return config.request_timeout === null ? null : Math.round(config.request_timeout * 1000);
}

/** An interrupt tries Ctrl-C `n_retry` times, pausing 0.2 s, then Ctrl-Z and `kill`, then drains 0.5 s. */
export function interruptWorkSeconds(timeout: number, nRetry: number): number {
  return (timeout + 0.2) * nRetry + 2 * timeout + 1;
}
