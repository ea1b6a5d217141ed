/**
 * `swerex reap` removes the private temp directories (sessions: swerex-*, execute: swerex-exec-*) of swerex
 * processes that are gone, and never those of a live process, as a real process would meet them: the
 * owner is SIGKILLed, so it cannot clean up. The Docker part of reap is tested in test/docker.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalRuntime } from "../../src/runtime/local/index.js";
import { spawnSwerex } from "../helpers/cli.js";
import { waitForProcessGone } from "../helpers/process.js";

const ROOT = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "reap-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the owner child with TMPDIR=dir until it says ready; returns its pid. */
async function startOwner(): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/cli/temp-dir-owner.ts"], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: dir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("owner child not ready within 60 s")), 60_000);
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await ready;
  return child.pid as number;
}

const entries = () =>
  readdirSync(dir)
    .filter((n) => n.startsWith("swerex-"))
    .sort();

describe("swerex reap and temp directories", () => {
  it("removes the temp dirs of a killed swerex process, and not a live one's", async () => {
    const pid = await startOwner();
    const theirs = entries();
    expect(theirs.some((n) => n.startsWith("swerex-exec-"))).toBe(true);
    expect(theirs.some((n) => !n.startsWith("swerex-exec-"))).toBe(true);
    process.kill(pid, "SIGKILL");
    expect(await waitForProcessGone(pid, 20_000)).toBe(true);

    // A live owner: this test process, with a session in the same TMPDIR.
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    const live = new LocalRuntime();
    try {
      await live.createSession({ session: "live", startup_timeout: 60 });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    const ours = entries().filter((n) => !theirs.includes(n));
    expect(ours).toHaveLength(1);
    try {
      // No engine here on purpose: the directories do not need one, and the hint says what is missing.
      const env = { ...process.env, TMPDIR: dir, DOCKER_HOST: "unix:///nonexistent/reap-test.sock" };
      const dry = await spawnSwerex(["reap", "--dry-run"], { env }).done;
      expect(dry.stdout.split("\n").filter(Boolean).sort()).toEqual(
        theirs.map((n) => `would remove ${join(dir, n)} owner=${pid} (dead)`),
      );
      expect(entries()).toEqual([...theirs, ...ours].sort());
      expect(dry.stderr).toContain("No Docker engine is reachable at unix:///nonexistent/reap-test.sock");

      const real = await spawnSwerex(["reap"], { env }).done;
      expect(real.stdout.split("\n").filter(Boolean).sort()).toEqual(
        theirs.map((n) => `removed ${join(dir, n)} owner=${pid} (dead)`),
      );
      expect(real.stderr).toContain(`swerex reap: ${theirs.length} temp directories\n`);
      expect(real.code).toBe(1);
      expect(entries()).toEqual(ours);
      expect(existsSync(join(dir, ours[0] as string))).toBe(true);
    } finally {
      await live.close();
    }
  }, 180_000);
});
