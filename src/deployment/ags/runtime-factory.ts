/**
 * How a deployment gets its runtime once the instance is RUNNING: an AGSRuntime on the instance's gateway
 * URL, with the data-plane connection the configuration asks for.
 */
import type { Logger } from "pino";
import { Agent, type Dispatcher } from "undici";
import { createHostRoutingDispatcher } from "../../net/index.js";
import { AGSRuntime } from "../../runtime/ags.js";
import type { TokenSource } from "../../runtime/index.js";
import type { Runtime } from "../../runtime/runtime.js";

export interface AgsRuntimeParams {
  /** `https://{port}-{InstanceId}.{domain}`. */
  url: string;
  tokens: TokenSource;
  /** `runtime_timeout`, seconds. */
  timeoutSec: number;
  /** A caller's dispatcher (e.g. the emulator's); wins over `gatewayAddress`. */
  dispatcher?: Dispatcher;
  /** `gateway_address`: connect here for `*.{domain}` (plain HTTP), keeping the sandbox Host header. */
  gatewayAddress: string;
  domain: string;
  skipSslVerify: boolean;
  logger: Logger;
}

export type AgsRuntimeFactory = (params: AgsRuntimeParams) => Runtime;

/** `http://127.0.0.1:9000` (or bare `127.0.0.1:9000`) → host and port. */
export function parseGatewayAddress(address: string): { host: string; port: number } {
  const url = new URL(/^[a-z]+:\/\//i.test(address) ? address : `http://${address}`);
  if (url.protocol !== "http:") throw new Error(`gateway_address must be plain http, got ${address}`);
  return { host: url.hostname, port: Number(url.port || 80) };
}

export const defaultAgsRuntimeFactory: AgsRuntimeFactory = (p) => {
  let owned: Dispatcher | undefined;
  if (!p.dispatcher) {
    if (p.gatewayAddress) {
      owned = createHostRoutingDispatcher({ domain: p.domain, ...parseGatewayAddress(p.gatewayAddress) });
    } else if (p.skipSslVerify) {
      owned = new Agent({ connect: { rejectUnauthorized: false }, headersTimeout: 0, bodyTimeout: 0 });
    }
  }
  return new AGSRuntime({
    host: p.url,
    tokens: p.tokens,
    timeout: p.timeoutSec,
    request_timeout: p.timeoutSec,
    dispatcher: p.dispatcher,
    ownedDispatcher: owned,
    logger: p.logger,
  });
};
