/**
 * The endpoint keys reach the HTTPS client through the deployment itself (no injected client): an `https`
 * `http_endpoint` with a real self-signed certificate (made with openssl at test time) needs
 * `skip_ssl_verify`, and `region` goes out as `X-TC-Region` on every call. The TLS endpoint is a small
 * proxy in front of the emulator that records what it forwards. Also: a `domain` whose gateway does not
 * know the instance fails the start at once with a message naming domain and region, instead of waiting
 * out `startup_timeout`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgsClient, resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import { AgsRequestError } from "../../src/deployment/ags/errors.js";
import { AgsGatewayError, GatewayCheck } from "../../src/deployment/ags/gateway-check.js";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import {
  emulatorConfig,
  inProcessBackend,
  SECRET_ID,
  SECRET_KEY,
  startEmulator,
} from "./emulator-helpers.js";

const REGION = "ap-guangzhou";

let emu: AgsEmulator;
let tls: Server;
let tlsEndpoint: string;
let certDir: string;
const forwarded: { region: string | undefined; action: string | undefined }[] = [];

/** A self-signed certificate for 127.0.0.1, valid for a day. */
function selfSigned(dir: string): { key: Buffer; cert: Buffer } {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore", timeout: 60_000 },
  );
  return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
}

beforeAll(async () => {
  emu = await startEmulator({ backend: inProcessBackend(), domain: `${REGION}.tencentags.com` });
  certDir = mkdtempSync(join(tmpdir(), "swerex-ags-tls-"));
  // TLS in front of the emulator's control plane, passing the request through byte for byte.
  tls = createServer(selfSigned(certDir), (req, res) => {
    forwarded.push({
      region: req.headers["x-tc-region"] as string | undefined,
      action: req.headers["x-tc-action"] as string | undefined,
    });
    const up = httpRequest(
      { host: "127.0.0.1", port: emu.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  tlsEndpoint = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
});

afterAll(async () => {
  resetSharedAgsClients();
  tls?.closeAllConnections();
  await new Promise<void>((r) => (tls ? tls.close(() => r()) : r()));
  await emu?.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe("AGS endpoint keys through the deployment", () => {
  it("a self-signed https endpoint is refused unless skip_ssl_verify", async () => {
    const strict = new AgsClient({
      secretId: SECRET_ID,
      secretKey: SECRET_KEY,
      region: REGION,
      endpoint: tlsEndpoint,
      retry: { maxRetries: 0 },
    });
    try {
      const err = await strict.call("DescribeSandboxToolList", {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgsRequestError);
      expect((err as AgsRequestError).code).toBe("TransportError");
      expect((err as Error).message).toMatch(/self[- ]signed certificate/i);
    } finally {
      strict.close();
    }
  });

  it("https http_endpoint + skip_ssl_verify + region: the deployment starts, runs and stops", async () => {
    forwarded.length = 0;
    const d = new TencentAGSDeployment(
      emulatorConfig(emu, {
        http_endpoint: tlsEndpoint,
        skip_ssl_verify: true,
        region: REGION,
        domain: "",
        gateway_address: emu.gatewayUrl,
      }),
      { env: {}, pollIntervalMs: 100 },
    );
    try {
      await d.start();
      expect(d.config.domain).toBe(`${REGION}.tencentags.com`);
      const r = await d.runtime.execute({ command: "echo over-tls", shell: true });
      expect(r.stdout).toBe("over-tls\n");
    } finally {
      await d.stop();
    }
    const actions = new Set(forwarded.map((f) => f.action));
    for (const a of [
      "CreateSandboxTool",
      "StartSandboxInstance",
      "AcquireSandboxInstanceToken",
      "StopSandboxInstance",
    ]) {
      expect(actions.has(a), a).toBe(true);
    }
    expect(new Set(forwarded.map((f) => f.region))).toEqual(new Set([REGION]));
  });

  it("a domain whose gateway does not know the instance fails the start fast, naming domain and region", async () => {
    const d = new TencentAGSDeployment(
      emulatorConfig(emu, {
        region: REGION,
        domain: "sandbox.elsewhere.example",
        gateway_address: emu.gatewayUrl,
        startup_timeout: 600,
      }),
      { env: {}, pollIntervalMs: 100, gatewayNotFoundGraceMs: 500 },
    );
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgsGatewayError);
    expect((err as Error).message).toMatch(
      /^the sandbox gateway at 8000-[a-z0-9]+\.sandbox\.elsewhere\.example answers 404 for an instance the control plane reports RUNNING; check domain \(sandbox\.elsewhere\.example\) and region \(ap-guangzhou\)/,
    );
    // The failed start stopped what it created.
    expect(d.instanceId).toBeUndefined();
  });
});

describe("AGS regions and gateway hosts that cannot work", () => {
  it("a region the service does not answer fails on the first call (UnsupportedRegion), not at startup_timeout", async () => {
    const d = new TencentAGSDeployment(
      emulatorConfig(emu, {
        region: "ap-atlantis",
        domain: "",
        gateway_address: emu.gatewayUrl,
        startup_timeout: 600,
      }),
      { env: {}, pollIntervalMs: 100 },
    );
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgsRequestError);
    expect((err as AgsRequestError).code).toBe("UnsupportedRegion");
    expect((err as AgsRequestError).attempts).toBe(1);
  });

  it("a sandbox host that does not resolve ends the wait at once; other failures wait", () => {
    const check = new GatewayCheck({
      url: "https://8000-abc.ap-nowhere.tencentags.com",
      domain: "ap-nowhere.tencentags.com",
      region: "ap-nowhere",
    });
    expect(() =>
      check.observe("Failed to connect to https://8000-abc.ap-nowhere.tencentags.com\nECONNREFUSED: connect"),
    ).not.toThrow();
    expect(() =>
      check.observe("Status code 502 from https://8000-abc.ap-nowhere.tencentags.com/is_alive. Message: x"),
    ).not.toThrow();
    expect(() =>
      check.observe(
        "Failed to connect to https://8000-abc.ap-nowhere.tencentags.com\nENOTFOUND: getaddrinfo ENOTFOUND 8000-abc.ap-nowhere.tencentags.com",
      ),
    ).toThrow(
      "the sandbox gateway host 8000-abc.ap-nowhere.tencentags.com does not resolve; check domain (ap-nowhere.tencentags.com) and region (ap-nowhere)",
    );
  });

  it("a 404 counts only once it persists (the gateway may lag RUNNING briefly)", () => {
    let now = 0;
    const check = new GatewayCheck({
      url: "https://8000-abc.d.example",
      domain: "d.example",
      region: "ap-guangzhou",
      graceMs: 5_000,
      now: () => now,
    });
    const notFound = "Status code 404 from https://8000-abc.d.example/is_alive. Message: not found";
    check.observe(notFound);
    now = 1_000;
    check.observe(notFound);
    now = 6_000;
    check.observe("Status code 503 from x"); // an answer in between starts the count again
    check.observe(notFound);
    now = 8_000;
    check.observe(notFound);
    now = 11_000;
    expect(() => check.observe(notFound)).toThrow(AgsGatewayError);
  });
});
