/**
 * `swerex ags gc|precache` take the deployment keys of `swerex run` (`--instances.deployment.*`), and
 * `precache` drives CreatePreCacheImageTask / DescribePreCacheImageTask against the emulator over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { spawnSwerex } from "../helpers/cli.js";
import { inProcessBackend, SECRET_ID, SECRET_KEY, startEmulator } from "./emulator-helpers.js";

/** No credentials in the environment: they come from the flags, as any deployment key can. */
const ENV: NodeJS.ProcessEnv = { ...process.env, SWEREX_LOG_LEVEL: "error", http_proxy: "" };
delete ENV.TENCENTCLOUD_SECRET_ID;
delete ENV.TENCENTCLOUD_SECRET_KEY;
delete ENV.TENCENTCLOUD_SESSION_TOKEN;

let emu: AgsEmulator;
beforeAll(async () => {
  emu = await startEmulator({ backend: inProcessBackend(), latency: { precacheMs: 4_000 } });
});
afterAll(async () => {
  await emu?.close();
});

const keys = () => [
  `--instances.deployment.http_endpoint=${emu.endpoint}`,
  `--instances.deployment.secret_id=${SECRET_ID}`,
  `--instances.deployment.secret_key=${SECRET_KEY}`,
  "--instances.deployment.region=ap-guangzhou",
];

describe("swerex ags", () => {
  it("gc takes --instances.deployment.* keys", async () => {
    const r = await spawnSwerex(["ags", "gc", "--dry-run", ...keys()], { env: ENV }).done;
    expect(r.stderr).toBe("swerex ags gc: 0 instance(s), 0 tool(s) (dry run)\n");
    expect(r.code).toBe(0);
  });

  it("gc names a bad deployment key and exits 2", async () => {
    const r = await spawnSwerex(["ags", "gc", ...keys(), "--instances.deployment.region=Nowhere"], {
      env: ENV,
    }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'swerex ags gc: --instances.deployment.region: must be a Tencent Cloud region such as "ap-guangzhou", got "Nowhere"\n',
    );
  });

  it("precache IMAGE... waits until each image is cached, with progress on stderr", async () => {
    const images = ["ccr.ccs.tencentyun.com/demo/a:1", "ccr.ccs.tencentyun.com/demo/b:1"];
    const r = await spawnSwerex(
      ["ags", "precache", ...images, ...keys(), "--instances.deployment.image_registry_type=personal"],
      { env: ENV },
    ).done;
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").sort();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cached ccr\.ccs\.tencentyun\.com\/demo\/a:1 sha256:[0-9a-f]{64}$/);
    expect(lines[1]).toMatch(/^cached ccr\.ccs\.tencentyun\.com\/demo\/b:1 sha256:[0-9a-f]{64}$/);
    for (const image of images) {
      // A status before Success (which one depends on when the first poll lands), then Success.
      const mine = r.stderr.split("\n").filter((l) => l.startsWith(`swerex ags precache: ${image}: `));
      expect(mine[0]).toMatch(/: (Pending waiting for a node|Running pulling image: \d+%)$/);
      expect(mine.at(-1)).toBe(`swerex ags precache: ${image}: Success image cached`);
    }
  });

  it("precache reports a failed pull and exits 1; no image is a usage error", async () => {
    emu.inject.failNextPrecache("manifest unknown");
    const r = await spawnSwerex(["ags", "precache", "missing:1", ...keys()], { env: ENV }).done;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^failed missing:1 sha256:[0-9a-f]{64} \(Failed: manifest unknown\)\n$/);
    const none = await spawnSwerex(["ags", "precache", ...keys()], { env: ENV }).done;
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("swerex ags precache: no image given");
  });
});
