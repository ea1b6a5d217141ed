/**
 * Issue 13 on a real `swerex-remote` process over real HTTP: a catastrophic `expect` regex does not stall
 * the server (item 4), `yes` costs a truncated observation, not the server (item 1), and a 10 MB command
 * is not echoed back in full (item 5).
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandTimeoutError } from "../../src/runtime/errors.js";
import { LocalRuntime } from "../../src/runtime/local/index.js";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { type SpawnedRuntimeServer, spawnRuntimeServerProcess } from "../../src/server/spawn.js";
import { rssOf } from "../helpers/process.js";
import { makeQuietHome, type QuietHome } from "../helpers/quiet-home.js";
import { captureLines, raw, serveOnLoopback } from "./helpers.js";

const KEY = "abuse-key";
const MAX_OUTPUT = 100_000;
const MIB = 1024 * 1024;
const START = { startup_timeout: 60 };

describe("swerex-remote under abuse (real process)", () => {
  let home: QuietHome;
  let server: SpawnedRuntimeServer;
  let rt: RemoteRuntime;
  beforeAll(async () => {
    home = await makeQuietHome();
    server = await spawnRuntimeServerProcess({
      authToken: KEY,
      env: { HOME: home.path, SWEREX_MAX_OUTPUT: String(MAX_OUTPUT) },
      timeoutMs: 60_000,
    });
    rt = new RemoteRuntime({ auth_token: KEY, host: server.url, timeout: 30 });
  });
  afterAll(async () => {
    await rt?.dispose();
    await server?.stop();
    await home?.remove();
  });

  it("answers /is_alive and other sessions while an expect regex backtracks catastrophically", async () => {
    await rt.createSession({ session: "regex", ...START });
    await rt.createSession({ session: "bystander", ...START });
    let settled = false;
    // 40 `a`s and no `b`: (a+)+b needs ~2^40 steps; on the event loop it would never give the server back.
    const stuck = rt
      .runInSession({ session: "regex", command: `echo ${"a".repeat(40)}`, expect: ["(a+)+b"], timeout: 5 })
      .finally(() => {
        settled = true;
      });
    stuck.catch(() => undefined);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      expect((await rt.isAlive({ timeoutMs: 30_000 })).is_alive).toBe(true);
      latencies.push(performance.now() - t0);
      const b = await rt.runInSession({ session: "bystander", command: `echo still-here-${i}`, timeout: 30 });
      expect(b.output).toBe(`still-here-${i}\n`);
      expect(settled).toBe(false);
    }
    console.log(`is_alive during a catastrophic regex: ${latencies.map((l) => l.toFixed(1)).join(", ")} ms`);
    // The regex never finishes, so the command's own timeout ends the action; the session recovers.
    await expect(stuck).rejects.toBeInstanceOf(CommandTimeoutError);
    await rt.runInSession({ session: "regex", action_type: "bash_interrupt" });
    expect((await rt.runInSession({ session: "regex", command: "echo recovered" })).output).toBe(
      "recovered\n",
    );
  });

  it("survives `yes` with a timeout and 20 MB of output: bounded observations, other sessions fine, RSS bounded", async () => {
    await rt.createSession({ session: "yes", ...START });
    await rt.createSession({ session: "calm", ...START });
    const rssBefore = (await rssOf(server.pid)) ?? 0;
    const err = await rt
      .runInSession({ session: "yes", command: "yes", timeout: 3 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect(((err as CommandTimeoutError).extraInfo.output as string).length).toBeLessThan(MAX_OUTPUT + 200);
    expect((err as CommandTimeoutError).extraInfo.output_truncated).toBe(true);
    expect((await rt.runInSession({ session: "calm", command: "echo calm" })).output).toBe("calm\n");
    await rt.runInSession({ session: "yes", action_type: "bash_interrupt" });
    const big = await rt.runInSession({
      session: "yes",
      command: `yes | head -c ${20 * MIB}; echo END`,
      timeout: 300,
    });
    expect(big.output.length).toBeLessThan(MAX_OUTPUT + 200);
    expect(big.output.endsWith("y\nEND\n")).toBe(true);
    expect(big.extra_info).toMatchObject({ output_truncated: true });
    const rssAfter = (await rssOf(server.pid)) ?? 0;
    console.log(
      `yes: server RSS before ${(rssBefore / MIB).toFixed(0)} MiB, after 20 MiB of output and 3 s of yes ${(rssAfter / MIB).toFixed(0)} MiB`,
    );
    expect(rssAfter - rssBefore).toBeLessThan(200 * MIB);
    expect((await rt.isAlive({ timeoutMs: 30_000 })).is_alive).toBe(true);
  });
});

describe("echoed input is capped (item 5)", () => {
  let home: QuietHome;
  const realHome = process.env.HOME;
  beforeAll(async () => {
    home = await makeQuietHome();
    process.env.HOME = home.path;
  });
  afterAll(async () => {
    process.env.HOME = realHome;
    await home.remove();
  });

  it("a 10 MB command that times out comes back capped in the 511 answer and in every log line", async () => {
    const { sink, lines } = captureLines();
    const runtime = new LocalRuntime();
    const server = await serveOnLoopback(runtime, KEY, pino({ level: "trace" }, sink));
    try {
      const auth = { "X-API-Key": KEY };
      await raw(`${server.url}/create_session`, { method: "POST", headers: auth, json: START });
      const command = `sleep 5 # ${"x".repeat(10 * MIB)}`;
      const r = await raw(`${server.url}/run_in_session`, {
        method: "POST",
        headers: auth,
        json: { command, timeout: 0.5 },
      });
      expect(r.status).toBe(511);
      const t = (r.json as { swerexception: { class_path: string; message: string; traceback: string } })
        .swerexception;
      expect(t.class_path).toBe("swerex.exceptions.CommandTimeoutError");
      expect(t.message).toContain("characters; the rest is not repeated)");
      expect(t.message.length).toBeLessThan(10 * 1024);
      expect(r.body.length).toBeLessThan(64 * 1024);
      for (const line of lines) expect(line.length).toBeLessThan(64 * 1024);
      expect(lines.join("")).toContain("runtime error");
    } finally {
      await server.close();
      await runtime.close();
    }
  });
});
