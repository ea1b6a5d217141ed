/** `RemoteRuntimeConfig`: SWE-ReX's fields and defaults, plus our retry and deadline knobs (all seconds). */
import { z } from "zod";

const seconds = z.number().nonnegative();

export const RemoteRuntimeConfig = z
  .object({
    type: z.literal("remote").default("remote"),
    /** Sent as `X-API-Key`; the empty string sends no key. */
    auth_token: z.string(),
    /** `http://` is added when the scheme is missing. */
    host: z.string().default("http://127.0.0.1"),
    /** `null`: the host URL already says where to go. */
    port: z.number().int().min(0).max(65535).nullable().default(null),
    /** `is_alive` timeout (upstream's 0.15 s). */
    timeout: seconds.default(0.15),
    /** Retries after a transport error or HTTP 502/503/504, with the same `X-Request-ID`. */
    num_retries: z.number().int().nonnegative().default(3),
    /** First retry delay; each next one is `min(2 * previous + U(0, 0.5), retry_backoff_max)`. */
    retry_backoff: seconds.default(0.1),
    retry_backoff_max: seconds.default(5),
    /** Added to a command's own timeout to get the HTTP deadline (the server answers a timeout itself first). */
    request_timeout_margin: seconds.default(30),
    /** Deadline of requests that carry no timeout of their own (files, sessions, upload); `null`: none. */
    request_timeout: seconds.nullable().default(120),
  })
  .strict();
export type RemoteRuntimeConfig = z.infer<typeof RemoteRuntimeConfig>;
export type RemoteRuntimeConfigInput = z.input<typeof RemoteRuntimeConfig>;

/** Adds a scheme to a bare host (upstream warns and adds `http://`) and drops a trailing slash. */
export function normalizeHost(host: string, scheme: "http" | "https" = "http"): string {
  const withScheme = host.startsWith("http") ? host : `${scheme}://${host}`;
  return withScheme.replace(/\/+$/, "");
}

/** The base URL every endpoint is appended to. */
export function apiUrlOf(host: string, port: number | null): string {
  return port === null ? host : `${host}:${port}`;
}
