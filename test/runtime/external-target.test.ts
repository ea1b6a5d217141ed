/**
 * external.test.ts runs the conformance suite against whatever SWEREX_TEST_URL names. This checks that
 * wiring end to end, with a real swerex-remote of ours as the external server: a nested vitest run, two
 * of the suite's cases selected (the whole suite runs in remote.test.ts already).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { stripControlChars } from "../../src/runtime/local/index.js";
import { spawnRuntimeServerProcess } from "../../src/server/spawn.js";

const ROOT = join(import.meta.dirname, "../..");

function vitest(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "node_modules/vitest/vitest.mjs"),
      "run",
      "test/runtime/external.test.ts",
      "-t",
      "is alive|writes then reads a file",
    ],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`nested vitest did not finish within 240 s:\n${out}`));
    }, 240_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

it("SWEREX_TEST_URL and SWEREX_TEST_TOKEN point the conformance suite at a running server", async () => {
  const server = await spawnRuntimeServerProcess({ authToken: "external-token" });
  try {
    const plain = stripControlChars;
    const ok = await vitest({
      ...process.env,
      SWEREX_TEST_URL: server.url,
      SWEREX_TEST_TOKEN: "external-token",
    });
    expect(plain(ok.out)).toMatch(/Tests\s+2 passed/);
    expect(ok.code).toBe(0);
    // The token really is sent: a wrong one fails the same cases.
    const bad = await vitest({ ...process.env, SWEREX_TEST_URL: server.url, SWEREX_TEST_TOKEN: "wrong" });
    expect(plain(bad.out)).toMatch(/Tests\s+2 failed/);
    expect(bad.code).toBe(1);
  } finally {
    await server.stop();
  }
}, 600_000);
