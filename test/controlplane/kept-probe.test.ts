/**
 * KeptAliveProbe (the warm-pool hand-out's alive check) against a real HTTP server standing in for a
 * sandbox's runtime: a warmed connection is reused by the next probe, a kept connection the runtime drops
 * is not mistaken for a dead runtime, and a runtime that is gone is reported dead.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { KeptAliveProbe } from "../../src/controlplane/backends/kept-probe.js";

interface FakeRuntime {
  url: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** From now on, a connection that already served a request is dropped when the next one arrives. */
  dropReusedConnections(): void;
  close(): Promise<void>;
}

async function fakeRuntime(): Promise<FakeRuntime> {
  let accepted = 0;
  let dropReused = false;
  const served = new WeakMap<Socket, number>();
  const server: Server = createServer((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    if (dropReused && n > 1) {
      req.socket.destroy();
      return;
    }
    if (req.url !== "/is_alive" || req.headers["x-api-key"] !== "tok") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"is_alive":true,"message":""}');
  });
  server.on("connection", () => accepted++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    dropReusedConnections: () => {
      dropReused = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const TIMEOUT_MS = 5000;
/**
 * undici marks a connection free a turn of the event loop after the response ended (a request sent at once
 * opens a second one); a hand-out comes seconds after the warm-up, so the tests let that turn pass.
 */
const connectionFreed = () => new Promise((resolve) => setImmediate(resolve));

describe("KeptAliveProbe", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const runtime = await fakeRuntime();
    const probe = new KeptAliveProbe();
    cleanups.push(runtime.close, () => probe.close());
    return { runtime, probe, target: { url: runtime.url, headers: { "x-api-key": "tok" } } };
  }

  it("reuses the connection a warm-up opened", async () => {
    const { runtime, probe, target } = await setup();
    await probe.warm(target, TIMEOUT_MS);
    expect(runtime.connections()).toBe(1);
    await connectionFreed();
    expect(await probe.answers(target, TIMEOUT_MS)).toBe(true);
    await connectionFreed();
    expect(await probe.answers(target, TIMEOUT_MS)).toBe(true);
    expect(runtime.connections()).toBe(1);
  });

  it("asks again on a new connection when the kept one is dropped, instead of calling the runtime dead", async () => {
    const { runtime, probe, target } = await setup();
    await probe.warm(target, TIMEOUT_MS);
    runtime.dropReusedConnections();
    await connectionFreed();
    expect(await probe.answers(target, TIMEOUT_MS)).toBe(true);
    expect(runtime.connections()).toBe(2);
  });

  it("reports a runtime that no longer answers as dead", async () => {
    const { runtime, probe, target } = await setup();
    await probe.warm(target, TIMEOUT_MS);
    await runtime.close();
    expect(await probe.answers(target, TIMEOUT_MS)).toBe(false);
    // A wrong token is an answer, but not an alive one.
    const other = await setup();
    expect(await other.probe.answers({ ...other.target, headers: { "x-api-key": "bad" } }, TIMEOUT_MS)).toBe(
      false,
    );
  });
});
