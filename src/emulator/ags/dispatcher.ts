import { lookup as dnsLookup } from "node:dns";
import { Agent as HttpAgent } from "node:http";
import type { LookupFunction } from "node:net";
import { Agent, type Dispatcher } from "undici";

export interface EmulatorRoutingOptions {
  /** Data-plane domain: `*.{domain}` goes to the emulator. */
  domain: string;
  /** Loopback port the emulator listens on (API and gateway share it). */
  port: number;
  host: string;
}

function isEmulatorHost(hostname: string, domain: string): boolean {
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
 * An undici dispatcher for clients under test: requests to `http(s)://{port}-{id}.{domain}/...` are sent as
 * plain HTTP to the emulator on loopback, keeping the production Host header (the gateway routes on it).
 * Every other origin goes out unchanged. Pass it as `dispatcher` to undici `request`/`fetch`, or install
 * it with `setGlobalDispatcher`.
 */
export function createEmulatorDispatcher(
  opts: EmulatorRoutingOptions,
  base: Dispatcher = new Agent(),
): Dispatcher {
  const target = `http://${opts.host}:${opts.port}`;
  return base.compose((dispatch) => (dispatchOpts, handler) => {
    const origin = dispatchOpts.origin === undefined ? undefined : new URL(String(dispatchOpts.origin));
    if (!origin || !isEmulatorHost(origin.hostname, opts.domain)) return dispatch(dispatchOpts, handler);
    return dispatch(
      { ...dispatchOpts, origin: target, headers: withHost(dispatchOpts.headers, origin.host) },
      handler,
    );
  });
}

/**
 * A node:http Agent whose DNS lookup sends `*.{domain}` and the given API host names (e.g.
 * `ags.tencentcloudapi.com`) to the emulator's loopback address. For the Tencent Cloud SDK:
 * `httpProfile: { endpoint: "ags.tencentcloudapi.com:<port>", protocol: "http://", agent }` signs with the
 * real service name `ags` while reaching the emulator.
 */
export function createEmulatorHttpAgent(
  opts: EmulatorRoutingOptions & { apiHostnames?: string[] },
): HttpAgent {
  const names = new Set((opts.apiHostnames ?? ["ags.tencentcloudapi.com"]).map((h) => h.toLowerCase()));
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (names.has(hostname.toLowerCase()) || isEmulatorHost(hostname, opts.domain)) {
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
