/** The `swerex-remote` command line: argument rules (spec 4.1) and the real process's lifecycle. */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { parseRemoteArgs } from "../../src/server/remote-cli.js";
import { runtimeServerCommand, spawnRuntimeServerProcess } from "../../src/server/spawn.js";
import { SWEREX_TS_VERSION } from "../../src/server/version.js";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid)
      process.kill(-child.pid, "SIGKILL");
  }
});

function runCli(args: string[]): ChildProcess {
  const { file, args: base } = runtimeServerCommand();
  const child = spawn(file, [...base, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.push(child);
  return child;
}

async function finish(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe("parseRemoteArgs", () => {
  it("uses upstream's defaults: host 0.0.0.0, port 8000", () => {
    expect(parseRemoteArgs(["--auth-token", "t"], {})).toEqual({
      host: "0.0.0.0",
      port: 8000,
      authToken: "t",
      limits: DEFAULT_LIMITS,
    });
  });

  it("accepts an empty --auth-token (auth off) but requires the flag", () => {
    expect(parseRemoteArgs(["--auth-token", ""], {})).toMatchObject({
      host: "0.0.0.0",
      port: 8000,
      authToken: "",
    });
    const missing = parseRemoteArgs(["--port", "1"]);
    expect(missing).toMatchObject({ exitCode: 2 });
    expect((missing as { stderr: string }).stderr).toContain(
      "the following arguments are required: --auth-token",
    );
  });

  it("takes each limit from its flag, else its environment variable, else the default; k/M/G suffixes", () => {
    const env = { SWEREX_MAX_SESSIONS: "7", SWEREX_MAX_OUTPUT: "1M", SWEREX_MAX_UNZIP_BYTES: "" };
    const parsed = parseRemoteArgs(
      ["--auth-token", "t", "--max-output", "64k", "--max-upload-bytes", "2G"],
      env,
    );
    expect(parsed).toMatchObject({
      limits: {
        maxOutput: 64 * 1024,
        maxSessions: 7,
        maxUploadBytes: 2 * 1024 ** 3,
        maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes,
        maxUnzipBytes: DEFAULT_LIMITS.maxUnzipBytes,
      },
    });
    const badFlag = parseRemoteArgs(["--auth-token", "t", "--max-sessions", "lots"], {});
    expect(badFlag).toMatchObject({ exitCode: 2 });
    expect((badFlag as { stderr: string }).stderr).toContain("argument --max-sessions: invalid size: 'lots'");
    const badEnv = parseRemoteArgs(["--auth-token", "t"], { SWEREX_MAX_OUTPUT: "0" });
    expect((badEnv as { stderr: string }).stderr).toContain("environment variable SWEREX_MAX_OUTPUT");
  });

  it("rejects a port that is not an integer in range", () => {
    for (const port of ["x", "70000", "-1", "1.5", ""]) {
      expect(parseRemoteArgs(["--port", port, "--auth-token", "t"])).toMatchObject({ exitCode: 2 });
    }
  });

  it("prints the version alone, and refuses --version with other arguments", () => {
    const v = parseRemoteArgs(["--version"]);
    expect(v).toMatchObject({ exitCode: 0 });
    expect((v as { stdout: string }).stdout).toBe(`swerex-ts ${SWEREX_TS_VERSION} (SWE-ReX 1.4.0 protocol)`);
    expect(parseRemoteArgs(["-v"])).toMatchObject({ exitCode: 0 });
    expect(parseRemoteArgs(["--version", "--auth-token", "t"])).toEqual({
      exitCode: 1,
      stdout: "Error: --version cannot be combined with other arguments",
    });
  });

  it("embeds the same version as package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(SWEREX_TS_VERSION).toBe(pkg.version);
  });
});

describe("swerex-remote process", () => {
  it("prints the version and exits 0; with other arguments exits 1", async () => {
    const ok = await finish(runCli(["--version"]));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`swerex-ts ${SWEREX_TS_VERSION} (SWE-ReX 1.4.0 protocol)\n`);
    const bad = await finish(runCli(["-v", "--port", "1"]));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("Error: --version cannot be combined with other arguments\n");
  });

  it("exits 2 without --auth-token", async () => {
    const r = await finish(runCli(["--port", "0"]));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--auth-token");
  });

  it("prints exactly one listening line with the real port, and on SIGTERM closes its sessions and exits 0", async () => {
    const child = runCli(["--host", "127.0.0.1", "--port", "0", "--auth-token", "cli-key"]);
    const stdoutLines: string[] = [];
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (l) => stdoutLines.push(l));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    await expect.poll(() => stdoutLines.length, { timeout: 30_000 }).toBe(1);
    const match = /^swerex-remote listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(stdoutLines[0] ?? "");
    expect(match).not.toBeNull();
    const port = Number(match?.[1]);
    expect(port).toBeGreaterThan(0);

    const runtime = new RemoteRuntime({ auth_token: "cli-key", port });
    let bashPid: number;
    try {
      await runtime.createSession({ startup_timeout: 30 });
      const obs = await runtime.runInSession({ command: "echo $$", timeout: 30 });
      bashPid = Number(obs.output.trim());
      expect(() => process.kill(bashPid, 0)).not.toThrow();
    } finally {
      await runtime.dispose();
    }
    process.kill(child.pid as number, "SIGTERM");
    expect(await exit).toBe(0);
    expect(stdoutLines).toHaveLength(1);
    await expect
      .poll(
        () => {
          try {
            process.kill(bashPid, 0);
            return "alive";
          } catch {
            return "gone";
          }
        },
        { timeout: 10_000 },
      )
      .toBe("gone");
  });

  it("spawnRuntimeServerProcess reports url and port, and stop() ends the process", async () => {
    const server = await spawnRuntimeServerProcess({ authToken: "spawn-key" });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const runtime = new RemoteRuntime({ auth_token: "spawn-key", host: server.url });
      expect((await runtime.isAlive({ timeoutMs: 10_000 })).is_alive).toBe(true);
      await runtime.dispose();
    } finally {
      await server.stop();
    }
    expect(() => process.kill(server.pid, 0)).toThrow();
    await server.stop(); // idempotent
  });

  it("spawnRuntimeServerProcess rejects with the server's stderr when it cannot start", async () => {
    const first = await spawnRuntimeServerProcess({ authToken: "" });
    try {
      await expect(spawnRuntimeServerProcess({ authToken: "", port: first.port })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.stop();
    }
  });
});
