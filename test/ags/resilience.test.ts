/**
 * Tokens, signatures and secrets against the emulator over real HTTP, on both sandbox backends (in-process
 * swerex-remote servers, and busybox containers with the runtime bundle mounted at /nix).
 */
import type { Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import type { TencentAGSDeploymentConfigInput } from "../../src/deployment/ags/config.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { AgsRequestError } from "../../src/deployment/ags/errors.js";
import {
  captureLogger,
  emulatorConfig,
  inProcessBackend,
  SECRET_ID,
  SECRET_KEY,
} from "./emulator-helpers.js";
import { BACKENDS, type BackendEmulator, describeBackend, startBackendEmulator } from "./sandbox-backends.js";

const TOKEN_TTL_SECONDS = 4;

for (const backend of BACKENDS) {
  describeBackend(backend)(`AGS tokens, signatures and secrets (${backend} backend)`, () => {
    let env: BackendEmulator;
    const deployments: TencentAGSDeployment[] = [];

    beforeAll(async () => {
      env = await startBackendEmulator(backend, {
        localBackend: inProcessBackend(),
        tokenTtlSeconds: TOKEN_TTL_SECONDS,
      });
    }, 600_000);
    afterEach(async () => {
      await Promise.allSettled(deployments.splice(0).map((d) => d.stop()));
      resetSharedAgsClients();
    });
    afterAll(async () => {
      await env?.close();
    });

    /** A deployment config for this backend's emulator. */
    const config = (extra: TencentAGSDeploymentConfigInput = {}) =>
      emulatorConfig(env.emu, { ...env.config, ...extra });

    /** The emulator's dispatcher, plus a record of every X-Access-Token sent through it. */
    function recordingDispatcher(tokens: Set<string>): Dispatcher {
      return env.emu.dispatcher().compose((dispatch) => (opts, handler) => {
        const h = opts.headers as Record<string, string> | undefined;
        const t = h?.["X-Access-Token"] ?? h?.["x-access-token"];
        if (t) tokens.add(t);
        return dispatch(opts, handler);
      });
    }

    function acquisitions(): number {
      return env.emu.callCounts().AcquireSandboxInstanceToken ?? 0;
    }

    it("a command that runs past the token's expiry succeeds, and the next request gets a fresh token", async () => {
      const tokens = new Set<string>();
      const d = new TencentAGSDeployment(config(), {
        dispatcher: recordingDispatcher(tokens),
        pollIntervalMs: 100,
      });
      deployments.push(d);
      await d.start();
      await d.runtime.createSession({ session: "s", startup_timeout: 30 });
      const before = acquisitions();
      const obs = await d.runtime.runInSession({
        session: "s",
        command: `sleep ${TOKEN_TTL_SECONDS + 2}; echo done`,
        timeout: 60,
      });
      expect(obs.output.trim()).toBe("done");
      // The token it was sent with has expired by now; the next call refreshes before sending.
      const next = await d.runtime.execute({ command: "echo after", shell: true, timeout: 30 });
      expect(next.stdout).toBe("after\n");
      expect(acquisitions()).toBeGreaterThan(before);
      expect(tokens.size).toBeGreaterThanOrEqual(2);
    }, 120_000);

    it("a 401 refreshes the token once, shared by every concurrent request", async () => {
      const d = new TencentAGSDeployment(config(), {
        dispatcher: env.emu.dispatcher(),
        pollIntervalMs: 100,
      });
      deployments.push(d);
      await d.start();
      // Revoke server-side while our cached token still looks valid to us.
      env.emu.inject.expireTokens(d.instanceId);
      const before = acquisitions();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          d.runtime.execute({ command: `echo ${i}`, shell: true, timeout: 30 }),
        ),
      );
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 8 }, (_, i) => `${i}\n`));
      expect(acquisitions() - before).toBe(1);
    });
    // Signing happens before any sandbox exists: one backend is enough.
    it.runIf(backend === "local")(
      "a request signed with the wrong key is rejected (AuthFailure.SignatureFailure), not retried, and names no key",
      async () => {
        const wrongKey = "tampered-secret-key-0000";
        const d = new TencentAGSDeployment(config({ secret_key: wrongKey }), {
          dispatcher: env.emu.dispatcher(),
        });
        const err = (await d.start().catch((e: unknown) => e)) as AgsRequestError;
        expect(err).toBeInstanceOf(AgsRequestError);
        expect(err.code).toBe("AuthFailure.SignatureFailure");
        expect(err.attempts).toBe(1);
        const text = `${err.message}\n${err.stack}\n${JSON.stringify(err)}`;
        expect(text).not.toContain(wrongKey);
        expect(text).not.toContain(SECRET_KEY);
        expect(d.instanceId).toBeUndefined();
      },
    );

    it("SecretKey and access tokens appear in no log line of a full lifecycle", async () => {
      resetSharedAgsClients();
      const { logger, lines } = captureLogger();
      const tokens = new Set<string>();
      const d = new TencentAGSDeployment(config({ secret_id: SECRET_ID, secret_key: SECRET_KEY }), {
        dispatcher: recordingDispatcher(tokens),
        logger,
        pollIntervalMs: 100,
      });
      await d.start();
      env.emu.inject.expireTokens(d.instanceId);
      await d.runtime.execute({ command: "echo x", shell: true, timeout: 30 });
      await d.pause();
      await d.resume();
      const back = await d.runtime.execute({ command: "echo back", shell: true, timeout: 30 });
      expect(back.stdout).toBe("back\n");
      await d.extendTimeout("10m");
      await d.stop();
      expect(tokens.size).toBeGreaterThanOrEqual(3); // first, after the 401, after the resume
      expect(lines.length).toBeGreaterThan(5);
      const all = lines.join("");
      expect(all).toContain("sandbox instance started");
      expect(all).not.toContain(SECRET_KEY);
      for (const t of tokens) expect(all).not.toContain(t);
    });
  });
}
