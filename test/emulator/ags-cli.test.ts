import { type ChildProcess, spawn } from "node:child_process";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulatorDispatcher } from "../../src/emulator/ags/index.js";
import { processAlive, waitForProcessGone } from "../helpers/process.js";
import { activeTool, callApi, ok, SECRET_ID, SECRET_KEY, waitStatus } from "./helpers.js";

describe("swerex ags-emulator CLI", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  it("prints endpoint and domain, serves signed calls, and stops its sandboxes on SIGTERM", async () => {
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/swerex.ts",
        "ags-emulator",
        "--port",
        "0",
        "--secret-id",
        SECRET_ID,
        "--domain",
        "test.tencentags.com",
      ],
      {
        cwd: process.cwd(),
        env: { ...process.env, TENCENTCLOUD_SECRET_KEY: SECRET_KEY },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no endpoint line; stderr: ${err}`)), 60_000);
      child?.stdout?.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m && out.includes("domain:")) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child?.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(out).toContain("domain: test.tencentags.com");
    expect(out).not.toContain(SECRET_KEY);
    const bad = await callApi(endpoint, "DescribeSandboxToolList", {}, { secretKey: "nope" });
    expect(bad.Response.Error.Code).toBe("AuthFailure.SignatureFailure");
    const tool = await activeTool(endpoint, { CustomConfiguration: { Ports: [{ Port: 8000 }] } });
    const r = await ok(endpoint, "StartSandboxInstance", { ToolId: tool });
    const id = r.Instance.InstanceId as string;
    await waitStatus(endpoint, id, "RUNNING", 90_000);
    const { Token } = await ok(endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    const port = Number(new URL(endpoint).port);
    const dispatcher = createEmulatorDispatcher({ domain: "test.tencentags.com", port, host: "127.0.0.1" });
    try {
      const res = await request(`https://8000-${id}.test.tencentags.com/execute`, {
        method: "POST",
        dispatcher,
        headers: { "content-type": "application/json", "X-Access-Token": Token },
        body: JSON.stringify({ command: "echo $PPID", shell: true, timeout: 30 }),
        signal: AbortSignal.timeout(60_000),
      });
      const json = (await res.body.json()) as { stdout: string };
      const serverPid = Number(json.stdout.trim());
      expect(serverPid).toBeGreaterThan(1);
      expect(processAlive(serverPid)).toBe(true);
      const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(143);
      // The runtime server of the instance went down with the emulator.
      expect(await waitForProcessGone(serverPid, 15_000)).toBe(true);
    } finally {
      await dispatcher.close();
    }
  });

  it("exits 2 with usage when credentials are missing", async () => {
    const { run } = await import("../../src/cli/commands/ags-emulator.js");
    const saved = { id: process.env.TENCENTCLOUD_SECRET_ID, key: process.env.TENCENTCLOUD_SECRET_KEY };
    delete process.env.TENCENTCLOUD_SECRET_ID;
    delete process.env.TENCENTCLOUD_SECRET_KEY;
    try {
      expect(await run(["--port", "0"])).toBe(2);
      expect(await run(["--secret-id", "a", "--secret-key", "b", "--backend", "k8s"])).toBe(2);
      expect(await run(["--bogus"])).toBe(2);
    } finally {
      if (saved.id !== undefined) process.env.TENCENTCLOUD_SECRET_ID = saved.id;
      if (saved.key !== undefined) process.env.TENCENTCLOUD_SECRET_KEY = saved.key;
    }
  });
});
