/**
 * Host routing for clients: "connect here, but send this Host". The AGS data plane addresses each sandbox
 * by host name (`{port}-{instanceId}.{domain}`); a client that must reach a gateway at another address (the
 * emulator on loopback, an internal load balancer) keeps the production Host header, which the gateway
 * routes on. A transport concern shared by the AGS deployment and the emulator's clients, so neither
 * imports the other.
 */
import { lookup as dnsLookup } from "node:dns";
import { Agent as HttpAgent } from "node:http";
import type { LookupFunction } from "node:net";
import { Agent, type Dispatcher } from "undici";

export interface HostRoutingOptions {
  /** Data-plane domain: `{domain}` and `*.{domain}` are sent to `host:port`. */
  domain: string;
  /** Where to connect instead (plain HTTP). */
  port: number;
  host: string;
}

function isRoutedHost(hostname: string, domain: string): boolean {
  const h = hostname.toLowerCase();
  const d = domain.toLowerCase();
  return h === d || h.endsWith(`.${d}`);
}

type HeaderInput = Dispatcher.DispatchOptions["headers"];

/** Returns the headers as a flat record with `host` set (undici accepts records, flat arrays and pair iterables). */
function withHost(headers: HeaderInput, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (k: string, v: string | string[] | undefined) => {
    if (v === undefined || k.toLowerCase() === "host") return;
    out[k] = v;
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), headers[i + 1] as string);
  } else if (headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [k, v] of headers as Iterable<[string, string | string[] | undefined]>) add(k, v);
  } else if (headers) {
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) add(k, v);
  }
  out.host = host;
  return out;
}

/**
 * An undici dispatcher: requests to `http(s)://{port}-{id}.{domain}/...` are sent as plain HTTP to
 * `host:port`, keeping the production Host header (the gateway routes on it).
 * Every other origin goes out unchanged. Pass it as `dispatcher` to undici `request`/`fetch`, or install
 * it with `setGlobalDispatcher`.
 */
export function createHostRoutingDispatcher(
  opts: HostRoutingOptions,
  base: Dispatcher = new Agent(),
): Dispatcher {
  const target = `http://${opts.host}:${opts.port}`;
  return base.compose((dispatch) => (dispatchOpts, handler) => {
    const origin = dispatchOpts.origin === undefined ? undefined : new URL(String(dispatchOpts.origin));
    if (!origin || !isRoutedHost(origin.hostname, opts.domain)) return dispatch(dispatchOpts, handler);
    return dispatch(
      { ...dispatchOpts, origin: target, headers: withHost(dispatchOpts.headers, origin.host) },
      handler,
    );
  });
}

/**
 * A node:http Agent whose DNS lookup sends `*.{domain}` and the given API host names (e.g.
 * `ags.tencentcloudapi.com`) to `host` (e.g. the emulator's loopback address). For the Tencent Cloud SDK:
 * `httpProfile: { endpoint: "ags.tencentcloudapi.com:<port>", protocol: "http://", agent }` signs with the
 * real service name `ags` while reaching the emulator.
 */
export function createHostRoutingHttpAgent(
  opts: HostRoutingOptions & { apiHostnames?: string[] },
): HttpAgent {
  const names = new Set((opts.apiHostnames ?? ["ags.tencentcloudapi.com"]).map((h) => h.toLowerCase()));
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (names.has(hostname.toLowerCase()) || isRoutedHost(hostname, opts.domain)) {
      if (options?.all) {
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
          { address: opts.host, family: 4 },
        ]);
      } else callback(null, opts.host, 4);
      return;
    }
    dnsLookup(hostname, options, callback);
  };
  return new HttpAgent({ keepAlive: true, lookup });
}
