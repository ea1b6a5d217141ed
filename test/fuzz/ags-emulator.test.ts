/**
 * Generative fuzz of every `swerex ags-emulator` route (issue 13): the real CLI process; the API's actions
 * with valid bodies mutated, half of the requests correctly TC3-signed (so the fuzz reaches the actions,
 * not only the signature check), plus the sandbox gateway (Host routing). No 5xx, the process alive,
 * its RSS back near the start.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { AGS_API_VERSION, signTc3 } from "../../src/emulator/ags/index.js";
import { spawnSwerex, waitForOutput } from "../helpers/cli.js";
import { type FuzzRequest, type FuzzRoute, seededRandom } from "../helpers/fuzz.js";
import { makeQuietHome, type QuietHome } from "../helpers/quiet-home.js";
import { FUZZ_SEED, FUZZ_SERVER_NODE_OPTIONS, FUZZ_TEST_TIMEOUT_MS, fuzzAndCheck } from "./helpers.js";

const SECRET_ID = "AKIDfuzz";
const SECRET_KEY = "fuzz-secret-key";

/** A plausible body per action: what a client would send. */
const ACTIONS: Record<string, Record<string, unknown>> = {
  CreateSandboxTool: {
    ToolName: "fuzz-tool",
    ToolType: "custom",
    NetworkConfiguration: { NetworkMode: "PUBLIC" },
    CustomConfiguration: { Image: "python:3.11", Command: ["/bin/sh", "-c"], Args: ["sleep 1"] },
  },
  DescribeSandboxToolList: { ToolIds: ["sdt-nonexistent"], Limit: 10, Offset: 0 },
  UpdateSandboxTool: { ToolId: "sdt-nonexistent", Description: "x" },
  DeleteSandboxTool: { ToolId: "sdt-nonexistent" },
  StartSandboxInstance: { ToolId: "sdt-nonexistent", Timeout: "5m", ClientToken: "fuzz" },
  DescribeSandboxInstanceList: { InstanceIds: ["sbi-nonexistent"], Limit: 10 },
  StopSandboxInstance: { InstanceId: "sbi-nonexistent" },
  PauseSandboxInstance: { InstanceId: "sbi-nonexistent" },
  ResumeSandboxInstance: { InstanceId: "sbi-nonexistent" },
  UpdateSandboxInstance: { InstanceId: "sbi-nonexistent", Timeout: "10m" },
  AcquireSandboxInstanceToken: { InstanceId: "sbi-nonexistent" },
};

describe("fuzz: swerex ags-emulator", () => {
  let home: QuietHome;
  let emu: ReturnType<typeof spawnSwerex>;
  let baseUrl = "";
  beforeAll(async () => {
    home = await makeQuietHome();
    emu = spawnSwerex(
      [
        "ags-emulator",
        "--secret-id",
        SECRET_ID,
        "--port",
        "0",
        "--instance-quota",
        "2",
        "--rate-limit",
        "100000",
      ],
      {
        env: {
          ...process.env,
          HOME: home.path,
          TENCENTCLOUD_SECRET_KEY: SECRET_KEY,
          NODE_OPTIONS: FUZZ_SERVER_NODE_OPTIONS,
        },
        timeoutMs: 600_000,
      },
    );
    baseUrl = ((await waitForOutput(emu, /AGS emulator listening on (\S+)/))[1] as string).replace(/\/$/, "");
  });
  afterAll(async () => {
    emu?.child.kill("SIGTERM");
    await emu?.done.catch(() => undefined);
    await home?.remove();
  });

  it(
    "answers every mutated request without a 5xx, and stays up",
    async () => {
      const { hostname, host } = new URL(baseUrl);
      const signRng = seededRandom(FUZZ_SEED + 1);
      /** Signs half of the requests correctly for what they carry (action, body, content type). */
      const finalize = (req: FuzzRequest): FuzzRequest => {
        if (req.path !== "/" || signRng() < 0.5) return req;
        const timestamp = Math.floor(Date.now() / 1000);
        const contentType = req.headers["content-type"] ?? "";
        const authorization = signTc3({
          secretId: SECRET_ID,
          secretKey: SECRET_KEY,
          service: "ags",
          hostname,
          contentType,
          body: req.body ?? Buffer.alloc(0),
          timestamp,
        });
        return {
          ...req,
          headers: { ...req.headers, authorization, "x-tc-timestamp": String(timestamp), host },
        };
      };
      const api = (action: string): FuzzRoute => ({
        method: "POST",
        path: "/",
        body: ACTIONS[action],
        headers: { "x-tc-action": action, "x-tc-version": AGS_API_VERSION, "x-tc-region": "ap-guangzhou" },
      });
      const routes: FuzzRoute[] = [
        ...Object.keys(ACTIONS).map(api),
        api("NoSuchAction"),
        { method: "GET", path: "/", body: {} },
        { method: "POST", path: "//", body: {} },
        {
          method: "GET",
          path: "/is_alive",
          headers: { host: "8000-sbinonexistent.ap-chongqing.tencentags.com" },
        },
        {
          method: "POST",
          path: "/run_in_session",
          body: { command: "echo hi" },
          headers: { host: "8000-sbinonexistent.ap-chongqing.tencentags.com", "x-access-token": "t" },
        },
      ];
      const pid = emu.child.pid as number;
      await fuzzAndCheck("swerex ags-emulator", pid, {
        baseUrl,
        routes,
        finalize,
        isFailure: (s) => s >= 500,
      });
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
