/**
 * HTTP deadlines come from each action's own timeout, not a hidden fixed cap (SWE-ReX #189/#290): checked
 * against a real server on loopback whose runtime answers slowly on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { PythonTimeoutError } from "../../src/runtime/errors.js";
import type { ActionInput, Observation } from "../../src/runtime/protocol.js";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { type LoopbackServer, serveOnLoopback } from "../server/helpers.js";

/** Answers every action after 1.5 s, like a command that ignores its timeout. */
class SlowRuntime extends DummyRuntime {
  override async runInSession(action: ActionInput): Promise<Observation> {
    await new Promise((r) => setTimeout(r, 1_500));
    return super.runInSession(action);
  }
}

describe("RemoteRuntime request deadlines", () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await serveOnLoopback(new SlowRuntime(), "");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("gives up at the action's timeout plus the margin", async () => {
    const rt = new RemoteRuntime({ auth_token: "", host: server.url, request_timeout_margin: 0.2 });
    try {
      const err = await rt.runInSession({ command: "x", timeout: 0.1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PythonTimeoutError);
      expect((err as Error).message).toBe(`POST ${server.url}/run_in_session got no answer within 0.3s`);
    } finally {
      await rt.dispose();
    }
  });

  it("waits as long as it takes for an action without timeout, whatever request_timeout says", async () => {
    const rt = new RemoteRuntime({
      auth_token: "",
      host: server.url,
      request_timeout: 0.2,
      request_timeout_margin: 0,
    });
    try {
      expect((await rt.runInSession({ command: "x", timeout: null })).exit_code).toBe(0);
    } finally {
      await rt.dispose();
    }
  });

  it("waits longer than the margin when the action's own timeout allows it", async () => {
    const rt = new RemoteRuntime({ auth_token: "", host: server.url, request_timeout_margin: 0 });
    try {
      expect((await rt.runInSession({ command: "x", timeout: 30 })).exit_code).toBe(0);
    } finally {
      await rt.dispose();
    }
  });
});
