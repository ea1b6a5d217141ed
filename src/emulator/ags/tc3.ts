import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { AgsApiError } from "./api-error.js";

/** TC3-HMAC-SHA256 as Tencent Cloud API 3.0 defines it (spec/ags.md §2.2), for POST / with JSON. */
export const TC3_ALGORITHM = "TC3-HMAC-SHA256";

export interface Tc3Credential {
  secretId: string;
  secretKey: string;
}

export interface Tc3SignInput {
  secretId: string;
  secretKey: string;
  /** Credential-scope service; the SDK derives it from the endpoint's first label. */
  service: string;
  /** Hostname WITHOUT port: the SDK signs `urlObj.hostname`. */
  hostname: string;
  contentType: string;
  body: string | Buffer;
  /** Unix seconds. */
  timestamp: number;
  /** Query string without "?" (always "" for POST). */
  query?: string;
  path?: string;
}

const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, msg: string): Buffer =>
  createHmac("sha256", key).update(msg, "utf8").digest();

/** UTC YYYY-MM-DD of a unix-seconds timestamp. */
export function tc3Date(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().slice(0, 10);
}

function signature(
  secretKey: string,
  date: string,
  service: string,
  timestamp: number,
  canonicalRequest: string,
): string {
  const scope = `${date}/${service}/tc3_request`;
  const stringToSign = `${TC3_ALGORITHM}\n${timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const kDate = hmac(`TC3${secretKey}`, date);
  const kService = hmac(kDate, service);
  const kSigning = hmac(kService, "tc3_request");
  return createHmac("sha256", kSigning).update(stringToSign, "utf8").digest("hex");
}

function canonicalRequest(
  path: string,
  query: string,
  canonicalHeaders: string,
  signedHeaders: string,
  body: string | Buffer,
): string {
  return `POST\n${path}\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${sha256Hex(body)}`;
}

/**
 * Signs a request independently of the SDK (tests and the CLI use it to talk to the emulator, and it
 * cross-checks the SDK). Returns the `Authorization` header value.
 */
export function signTc3(input: Tc3SignInput): string {
  const date = tc3Date(input.timestamp);
  const headers = `content-type:${input.contentType}\nhost:${input.hostname}\n`;
  const canonical = canonicalRequest(
    input.path ?? "/",
    input.query ?? "",
    headers,
    "content-type;host",
    input.body,
  );
  const sig = signature(input.secretKey, date, input.service, input.timestamp, canonical);
  return `${TC3_ALGORITHM} Credential=${input.secretId}/${date}/${input.service}/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`;
}

export interface Tc3VerifyInput {
  authorization: string | undefined;
  /** Lower-cased request headers as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  path: string;
  query: string;
  /** Looks a SecretId up; undefined when unknown. */
  lookupSecretKey: (secretId: string) => string | undefined;
  nowSeconds: number;
  /** Allowed |now - X-TC-Timestamp| in seconds (real service: 300). */
  windowSeconds: number;
  /** When set, the credential-scope service must equal it. */
  requireService?: string;
}

export interface Tc3Verified {
  secretId: string;
  service: string;
}

const AUTH_RE =
  /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

const SIGNATURE_FAILURE =
  "The provided credentials could not be validated. Please check your signature is correct.";

function headerValue(headers: Tc3VerifyInput["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * What can be checked before the body is read: the header's form, the SecretId, the timestamp window and
 * the scope's date. A server that does this first never reads a large body for an unauthenticated caller.
 */
export function preverifyTc3(input: Omit<Tc3VerifyInput, "body" | "path" | "query">): Tc3Verified {
  return checkHeader(input).verified;
}

/** Server-side check of spec/ags.md §2.3; throws AgsApiError with the real AuthFailure.* codes. */
export function verifyTc3(input: Tc3VerifyInput): Tc3Verified {
  const { verified, date, signedHeaders, sig, secretKey, timestamp } = checkHeader(input);
  const { service } = verified;
  const names = signedHeaders.split(";");
  if (!names.includes("content-type") || !names.includes("host")) {
    throw new AgsApiError("AuthFailure.SignatureFailure", SIGNATURE_FAILURE);
  }
  let canonicalHeaders = "";
  for (const name of names) {
    let value = headerValue(input.headers, name) ?? "";
    // The SDK signs the hostname only, while the Host header carries the port.
    if (name === "host") value = value.replace(/:\d+$/, "");
    canonicalHeaders += `${name}:${value.trim()}\n`;
  }
  const canonical = canonicalRequest(input.path, input.query, canonicalHeaders, signedHeaders, input.body);
  const expected = signature(secretKey, date, service, timestamp, canonical);
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(sig))) {
    throw new AgsApiError("AuthFailure.SignatureFailure", SIGNATURE_FAILURE);
  }
  return verified;
}

function checkHeader(input: Omit<Tc3VerifyInput, "body" | "path" | "query">) {
  const auth = input.authorization;
  if (!auth) throw new AgsApiError("AuthFailure.InvalidAuthorization", "Authorization header is missing.");
  const m = AUTH_RE.exec(auth.trim());
  if (!m) throw new AgsApiError("AuthFailure.InvalidAuthorization", "Authorization header is invalid.");
  const [, secretId = "", date = "", service = "", signedHeaders = "", sig = ""] = m;
  const secretKey = input.lookupSecretKey(secretId);
  if (secretKey === undefined) {
    throw new AgsApiError(
      "AuthFailure.SecretIdNotFound",
      "The SecretId is not found, please ensure that your SecretId is correct.",
    );
  }
  const tsRaw = headerValue(input.headers, "x-tc-timestamp") ?? "";
  if (!/^\d+$/.test(tsRaw)) {
    throw new AgsApiError(
      "MissingParameter",
      "The request is missing a required parameter `X-TC-Timestamp`.",
    );
  }
  const timestamp = Number(tsRaw);
  if (Math.abs(input.nowSeconds - timestamp) > input.windowSeconds) {
    throw new AgsApiError(
      "AuthFailure.SignatureExpire",
      `Signature expire. Request timestamp: ${timestamp}, server time: ${input.nowSeconds}, the difference exceeds ${input.windowSeconds} seconds.`,
    );
  }
  if (tc3Date(timestamp) !== date) throw new AgsApiError("AuthFailure.SignatureFailure", SIGNATURE_FAILURE);
  if (input.requireService !== undefined && service !== input.requireService) {
    throw new AgsApiError("AuthFailure.SignatureFailure", SIGNATURE_FAILURE);
  }
  return { verified: { secretId, service }, date, signedHeaders, sig, secretKey, timestamp };
}
