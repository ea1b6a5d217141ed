import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sleep } from "../../runtime/index.js";
import { AgsApiError } from "./api-error.js";
import type { EmulatorLogger } from "./context.js";
import type { RateLimiter } from "./rate-limit.js";
import { verifyTc3 } from "./tc3.js";

export const AGS_API_VERSION = "2025-09-20";
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** `Region` (X-TC-Region) is a required common parameter except for these actions (spec/ags.md §1.1). */
const REGION_OPTIONAL = new Set(["AcquireSandboxInstanceToken"]);

export type ActionHandler = (body: unknown) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface InjectedFault {
  rate: number;
  code: string;
  message: string;
}

export interface ControlPlaneOptions {
  actions: Record<string, ActionHandler>;
  lookupSecretKey: (secretId: string) => string | undefined;
  rateLimiter: RateLimiter;
  faults: Map<string, InjectedFault>;
  /** Extra delay before each answer (ms). */
  apiLatencyMs: () => number;
  signatureWindowSeconds: number;
  /** Require the credential-scope service to be `ags` (needs an `ags.*` endpoint name on the client). */
  strictService: boolean;
  callCounts: Map<string, number>;
  logger: EmulatorLogger | undefined;
  random: () => number;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AgsApiError("InvalidParameter", "The request body is too large."));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, traceId: string | undefined, response: Record<string, unknown>): void {
  const body = JSON.stringify({ Response: response });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  };
  // Echoing the trace ID fills the SDK error's `traceId`.
  if (traceId) headers["x-tc-traceid"] = traceId;
  res.writeHead(200, headers);
  res.end(body);
}

/**
 * Tencent Cloud API 3.0 front door: `POST /`, TC3 verification, version and action checks, rate limits and
 * injected faults, then the action; every answer is HTTP 200 with the `Response` envelope.
 */
export function createControlPlaneHandler(opts: ControlPlaneOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const traceHeader = req.headers["x-tc-traceid"];
    const traceId = Array.isArray(traceHeader) ? traceHeader[0] : traceHeader;
    let action = "";
    try {
      const url = new URL(req.url ?? "/", "http://emulator");
      if (req.method !== "POST" || url.pathname !== "/") {
        // The real endpoint also answers non-API paths with an envelope, not a bare 404.
        req.resume();
        throw new AgsApiError(
          "InvalidAction",
          `The API endpoint accepts only POST / (got ${req.method} ${url.pathname}).`,
        );
      }
      const body = await readBody(req);
      const auth = req.headers.authorization;
      verifyTc3({
        authorization: auth,
        headers: req.headers,
        body,
        path: url.pathname,
        query: url.search.slice(1),
        lookupSecretKey: opts.lookupSecretKey,
        nowSeconds: Math.floor(Date.now() / 1000),
        windowSeconds: opts.signatureWindowSeconds,
        requireService: opts.strictService ? "ags" : undefined,
      });
      const version = String(req.headers["x-tc-version"] ?? "");
      if (version !== AGS_API_VERSION) {
        throw new AgsApiError(
          "NoSuchVersion",
          `The API version \`${version}\` does not exist; use ${AGS_API_VERSION}.`,
        );
      }
      action = String(req.headers["x-tc-action"] ?? "");
      const handler = Object.hasOwn(opts.actions, action) ? opts.actions[action] : undefined;
      if (!handler) throw new AgsApiError("InvalidAction", `The action \`${action}\` does not exist.`);
      opts.callCounts.set(action, (opts.callCounts.get(action) ?? 0) + 1);
      if (!opts.rateLimiter.tryAcquire(action, Date.now())) {
        const limit = opts.rateLimiter.limitFor(action);
        throw new AgsApiError(
          "RequestLimitExceeded",
          `Your current request times exceed the frequency limit \`${limit}\` per second for action \`${action}\`. Please reduce the frequency of calls.`,
        );
      }
      const region = req.headers["x-tc-region"];
      if (!region && !REGION_OPTIONAL.has(action)) {
        throw new AgsApiError("MissingParameter", "The request is missing a required parameter `Region`.");
      }
      const latency = opts.apiLatencyMs();
      if (latency > 0) await sleep(latency);
      const fault = opts.faults.get(action);
      if (fault && opts.random() < fault.rate) throw new AgsApiError(fault.code, fault.message);
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
      } catch {
        throw new AgsApiError("InvalidParameter", "The request body is not valid JSON.");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new AgsApiError("InvalidParameter", "The request body must be a JSON object.");
      }
      const result = await handler(parsed);
      send(res, traceId, { ...result, RequestId: requestId });
    } catch (err) {
      const apiErr =
        err instanceof AgsApiError
          ? err
          : new AgsApiError("InternalError", "An internal error has occurred. Retry your request.");
      if (!(err instanceof AgsApiError))
        opts.logger?.warn({ action, err: String(err) }, "emulator action failed");
      send(res, traceId, { Error: { Code: apiErr.code, Message: apiErr.message }, RequestId: requestId });
    }
  };
}
