/**
 * Generative fuzz of every swerex-remote route (issue 13): a real server process, valid bodies mutated with
 * a fixed seed, a few seconds per route. No 5xx other than the protocol's 511, the process alive after,
 * its RSS back near the start.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { type SpawnedRuntimeServer, spawnRuntimeServerProcess } from "../../src/server/spawn.js";
import type { FuzzRoute } from "../helpers/fuzz.js";
import { makeQuietHome, type QuietHome } from "../helpers/quiet-home.js";
import { raw } from "../server/helpers.js";
import { FUZZ_SERVER_NODE_OPTIONS, FUZZ_TEST_TIMEOUT_MS, fuzzAndCheck } from "./helpers.js";

const KEY = "fuzz-key";

describe("fuzz: swerex-remote", () => {
  let home: QuietHome;
  let server: SpawnedRuntimeServer;
  beforeAll(async () => {
    home = await makeQuietHome();
    server = await spawnRuntimeServerProcess({
      authToken: KEY,
      // Relative paths the fuzzer writes land in the throwaway home, not in the repository.
      cwd: home.path,
      // Small caps, so that the fuzzer reaches them instead of the machine's limits.
      env: {
        HOME: home.path,
        SWEREX_MAX_SESSIONS: "4",
        SWEREX_MAX_OUTPUT: "64k",
        SWEREX_MAX_BODY_BYTES: "4M",
        NODE_OPTIONS: FUZZ_SERVER_NODE_OPTIONS,
      },
      timeoutMs: 60_000,
    });
  });
  let rt: RemoteRuntime | undefined;
  afterAll(async () => {
    await rt?.dispose();
    await server?.stop();
    await home?.remove();
  });

  it(
    "answers every mutated request without an unexpected 5xx, and stays up",
    async () => {
      rt = new RemoteRuntime({ auth_token: KEY, host: server.url, timeout: 30 });
      await rt.createSession({ session: "default", startup_timeout: 60 });
      // Warm up (JIT, pools) before the RSS baseline.
      await rt.runInSession({ command: "echo warm", timeout: 30 });
      const auth = { "X-API-Key": KEY };
      const routes: FuzzRoute[] = [
        { method: "GET", path: "/", headers: auth },
        { method: "GET", path: "/is_alive", headers: auth },
        {
          method: "POST",
          path: "/create_session",
          headers: auth,
          body: { session: "fz", startup_timeout: 0.5 },
        },
        {
          method: "POST",
          path: "/run_in_session",
          headers: auth,
          body: { command: "echo hi", session: "default", timeout: 2, check: "silent", action_type: "bash" },
        },
        { method: "POST", path: "/close_session", headers: auth, body: { session: "fz" } },
        {
          method: "POST",
          path: "/execute",
          headers: auth,
          body: { command: "true", shell: true, timeout: 2 },
        },
        { method: "POST", path: "/read_file", headers: auth, body: { path: "/etc/hostname" } },
        {
          method: "POST",
          path: "/write_file",
          headers: auth,
          body: { path: `${home.path}/fz.txt`, content: "x" },
        },
        { method: "POST", path: "/upload", headers: auth, body: { target_path: `${home.path}/up` } },
        { method: "POST", path: "/close", headers: auth },
        { method: "GET", path: "/no_such_route", headers: auth },
        { method: "POST", path: "/is_alive" },
      ];
      await fuzzAndCheck("swerex-remote", server.pid, {
        baseUrl: server.url,
        routes,
      });
      // Still a working server: a new session runs a command (the fuzzer may have closed or filled sessions).
      expect((await raw(`${server.url}/close`, { method: "POST", headers: auth })).status).toBe(200);
      await rt.createSession({ session: "after-fuzz", startup_timeout: 60 });
      const after = await rt.runInSession({ session: "after-fuzz", command: "echo after", timeout: 30 });
      expect(after.output).toBe("after\n");
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
