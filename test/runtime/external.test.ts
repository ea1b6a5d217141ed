/**
 * The runtime conformance suite (conformance.ts) against any swerex-remote that is already running, ours or
 * SWE-ReX's Python server: `SWEREX_TEST_URL=http://127.0.0.1:8000 SWEREX_TEST_TOKEN=... npx vitest run
 * test/runtime/external.test.ts` (docs/local-runtime.md). Skipped when SWEREX_TEST_URL is unset.
 * The server must run on this machine (the file tests use local temporary paths), with python3 and less.
 * Upstream's server fails the cases marked as upstream bugs in conformance.ts, by design.
 */
import { describe, it } from "vitest";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { defineSessionConformance } from "./conformance.js";

/** Per-request timeout of the liveness check, generous for a server on a loaded machine. */
const IS_ALIVE_TIMEOUT_S = 10;

const url = process.env.SWEREX_TEST_URL;
if (url) {
  defineSessionConformance(`RemoteRuntime against ${url}`, async () => {
    const runtime = new RemoteRuntime({
      host: url,
      auth_token: process.env.SWEREX_TEST_TOKEN ?? "",
      timeout: IS_ALIVE_TIMEOUT_S,
    });
    return {
      runtime,
      // `/close` closes the server's sessions; the server itself keeps running (it is not ours).
      cleanup: async () => {
        await runtime.close().catch(() => undefined);
      },
    };
  });
} else {
  describe.skip("conformance against an external swerex-remote (set SWEREX_TEST_URL, SWEREX_TEST_TOKEN)", () => {
    it("needs SWEREX_TEST_URL", () => {});
  });
}
