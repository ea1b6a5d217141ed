/**
 * Issue 13 item 9: any header whose name looks like a key, token, secret, password, cookie or authorization
 * is redacted, whatever its case and separators, by the shared helper and by the loggers built on it.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createAgsLogger } from "../../src/deployment/ags/log.js";
import { isSecretName, REDACTED, redactHeaders, redactingLoggerOptions } from "../../src/log/index.js";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { captureLines, raw, serveOnLoopback } from "../server/helpers.js";

const SECRET = "s3cr3t-value-that-must-not-appear";

describe("redactHeaders", () => {
  it("knows secret header names in any case and with any separator", () => {
    for (const name of [
      "X-API-Key",
      "x-api-key",
      "X_API_Key",
      "x.api.key",
      "Authorization",
      "proxy-authorization",
      "X-Access-Token",
      "cookie",
      "Set-Cookie",
      "X-Client-Secret",
      "db_password",
    ]) {
      expect({ name, secret: isSecretName(name) }).toEqual({ name, secret: true });
    }
    for (const name of ["accept", "content-type", "x-request-id", "x-session-id", "user-agent", "host"]) {
      expect({ name, secret: isSecretName(name) }).toEqual({ name, secret: false });
    }
  });

  it("blanks them in any headers object of a log line, at any depth, leaving the input untouched", () => {
    const input = {
      headers: { X_API_Key: SECRET, accept: "*/*" },
      req: { headers: { authorization: `Bearer ${SECRET}`, host: "h" } },
      list: [{ headers: { Cookie: SECRET } }],
      other: "kept",
    };
    const out = redactHeaders(input);
    expect(out).toEqual({
      headers: { X_API_Key: REDACTED, accept: "*/*" },
      req: { headers: { authorization: REDACTED, host: "h" } },
      list: [{ headers: { Cookie: REDACTED } }],
      other: "kept",
    });
    expect(input.headers.X_API_Key).toBe(SECRET);
  });
});

describe("loggers", () => {
  it("a pino logger with redactingLoggerOptions blanks X_API_Key", () => {
    const c = captureLines();
    const logger = pino({ level: "debug", ...redactingLoggerOptions() }, c.sink);
    logger.debug({ headers: { X_API_Key: SECRET, "X-Api-Key": SECRET } }, "request");
    expect(c.text()).toContain(REDACTED);
    expect(c.text()).not.toContain(SECRET);
  });

  it("the AGS logger blanks X_API_Key and X_Access_Token", () => {
    const c = captureLines();
    const logger = createAgsLogger(c.sink, "debug");
    logger.warn({ headers: { X_API_Key: SECRET, X_Access_Token: SECRET, "content-type": "a/b" } }, "call");
    expect(c.text()).toContain("a/b");
    expect(c.text()).not.toContain(SECRET);
  });

  it("swerex-remote never logs an X_API_Key or any other secret-looking header of a rejected request", async () => {
    const c = captureLines();
    const server = await serveOnLoopback(new DummyRuntime(), "the-key", pino({ level: "trace" }, c.sink));
    try {
      const r = await raw(`${server.url}/is_alive`, {
        headers: { X_API_Key: SECRET, "X-Client-Secret": SECRET, Cookie: `sid=${SECRET}` },
      });
      expect(r.status).toBe(403);
      expect(c.text()).toContain("rejected request");
      expect(c.text()).not.toContain(SECRET);
    } finally {
      await server.close();
    }
  });
});
