/**
 * A nock stand-in for the AGS control plane in unit tests: every POST / is answered by a handler per
 * X-TC-Action, and every request (action, headers, parsed body) is recorded for shape assertions.
 */
import nock from "nock";

// nock 15's interceptors call Promise.withResolvers, which Node 20 lacks (added in Node 22).
if (!("withResolvers" in Promise)) {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (v: T | PromiseLike<T>) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export const NOCK_ENDPOINT = "ags.tencentcloudapi.com";

export interface RecordedCall {
  action: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export type Reply = Record<string, unknown> | { Error: { Code: string; Message: string } };
export type Handler = (body: Record<string, unknown>, call: RecordedCall) => Reply | [number, string];

export interface MockAgs {
  calls: RecordedCall[];
  callsOf(action: string): RecordedCall[];
  done(): void;
}

export function mockAgs(handlers: Record<string, Handler>, origin = `https://${NOCK_ENDPOINT}`): MockAgs {
  const calls: RecordedCall[] = [];
  let n = 0;
  // nock 15 hands the reply function a fetch `Request`.
  const scope = nock(origin)
    .persist()
    .post("/")
    .reply(async (req: Request) => {
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => {
        headers[k.toLowerCase()] = v;
      });
      const text = await req.text();
      const body = JSON.parse(text || "{}") as Record<string, unknown>;
      const action = headers["x-tc-action"] ?? "";
      const call = { action, headers, body };
      calls.push(call);
      const handler = handlers[action];
      const requestId = `req-${++n}`;
      if (!handler) {
        const error = { Code: "InvalidAction", Message: `no handler for ${action}` };
        return [200, { Response: { Error: error, RequestId: requestId } }];
      }
      const out = handler(body, call);
      if (Array.isArray(out)) return out;
      return [200, { Response: { ...out, RequestId: requestId } }];
    });
  return {
    calls,
    callsOf: (action) => calls.filter((c) => c.action === action),
    done: () => {
      scope.persist(false);
      nock.cleanAll();
    },
  };
}

export const apiError = (Code: string, Message = Code) => ({ Error: { Code, Message } });
