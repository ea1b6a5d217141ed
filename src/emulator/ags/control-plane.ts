import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sleep } from "../../runtime/index.js";
import { AgsApiError } from "./api-error.js";
import type { EmulatorLogger } from "./context.js";
import type { RateLimiter } from "./rate-limit.js";
import { preverifyTc3, verifyTc3 } from "./tc3.js";

export const AGS_API_VERSION = "2025-09-20";
/** The API's limit for a POST body (Tencent Cloud API 3.0: 10 MB). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
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
  /** Calls per action answered `RequestLimitExceeded`. */
  limitedCounts: Map<string, number>;
  logger: EmulatorLogger | undefined;
  random: () => number;
  /** Regions the service answers for (`X-TC-Region`); others get `UnsupportedRegion`. */
  regions: ReadonlySet<string>;
  /** The STS session token that must come as `X-TC-Token` with this SecretId, if any. */
  lookupSessionToken: (secretId: string) => string | undefined;
  maxBodyBytes: number;
}

function tooLarge(max: number): AgsApiError {
  return new AgsApiError("InvalidParameter", `The request body is larger than ${max} bytes.`);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(tooLarge(max));
        // Stop reading; the answer still goes out, then the connection closes.
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(
  res: ServerResponse,
  traceId: string | undefined,
  response: Record<string, unknown>,
  close = false,
): void {
  const body = JSON.stringify({ Response: response });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  };
  // A body over the cap is never read, so the connection cannot be reused; any other unread body (a caller
  // refused before its body was read) is discarded by Node after the answer, so the client can finish
  // writing instead of hitting a reset mid-write (EPIPE), and the connection stays usable.
  if (close) headers.connection = "close";
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
    // True once the body cannot be drained politely (over the cap): the answer then closes the connection.
    let bodyOverCap = false;
    try {
      // No URL parsing: `//` or `//host/x` is a path here, not an authority.
      const raw = req.url ?? "/";
      const q = raw.indexOf("?");
      const pathname = q === -1 ? raw : raw.slice(0, q);
      const query = q === -1 ? "" : raw.slice(q + 1);
      if (req.method !== "POST" || pathname !== "/") {
        // The real endpoint also answers non-API paths with an envelope, not a bare 404.
        throw new AgsApiError(
          "InvalidAction",
          `The API endpoint accepts only POST / (got ${req.method} ${pathname.slice(0, 100)}).`,
        );
      }
      const auth = req.headers.authorization;
      const nowSeconds = Math.floor(Date.now() / 1000);
      const header = {
        authorization: auth,
        headers: req.headers,
        lookupSecretKey: opts.lookupSecretKey,
        nowSeconds,
        windowSeconds: opts.signatureWindowSeconds,
        requireService: opts.strictService ? "ags" : undefined,
      };
      // Who is calling is settled before the body is read: an unknown caller never costs a large read.
      preverifyTc3(header);
      const declared = Number(req.headers["content-length"] ?? 0);
      if (declared > opts.maxBodyBytes) {
        bodyOverCap = true;
        throw tooLarge(opts.maxBodyBytes);
      }
      const body = await readBody(req, opts.maxBodyBytes).catch((err: unknown) => {
        bodyOverCap = true;
        throw err;
      });
      const { secretId } = verifyTc3({ ...header, body, path: pathname, query });
      const expectedToken = opts.lookupSessionToken(secretId);
      if (expectedToken !== undefined) {
        const token = req.headers["x-tc-token"];
        if (token !== expectedToken) {
          throw new AgsApiError(
            "AuthFailure.TokenFailure",
            token === undefined
              ? "These credentials are temporary: the request needs the session token in X-TC-Token."
              : "The session token (X-TC-Token) is invalid or does not belong to this SecretId.",
          );
        }
      }
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
        opts.limitedCounts.set(action, (opts.limitedCounts.get(action) ?? 0) + 1);
        throw new AgsApiError(
          "RequestLimitExceeded",
          `Your current request times exceed the frequency limit \`${limit}\` per second for action \`${action}\`. Please reduce the frequency of calls.`,
        );
      }
      const region = req.headers["x-tc-region"];
      if (!region && !REGION_OPTIONAL.has(action)) {
        throw new AgsApiError("MissingParameter", "The request is missing a required parameter `Region`.");
      }
      if (typeof region === "string" && region !== "" && !opts.regions.has(region)) {
        throw new AgsApiError(
          "UnsupportedRegion",
          `The API does not support the region \`${region.slice(0, 64)}\`.`,
        );
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
      send(
        res,
        traceId,
        { Error: { Code: apiErr.code, Message: apiErr.message }, RequestId: requestId },
        bodyOverCap,
      );
    }
  };
}
