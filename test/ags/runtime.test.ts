/** AGSRuntime's gateway handling over real HTTP against a scripted gateway on loopback. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AGSRuntime, type TokenSource } from "../../src/runtime/ags.js";
import { EnvironmentExpiredError } from "../../src/runtime/errors.js";
import { RemoteHttpError } from "../../src/runtime/remote.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

async function gateway(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tokens(): TokenSource & { refreshes: (string | undefined)[] } {
  let n = 1;
  const refreshes: (string | undefined)[] = [];
  return {
    refreshes,
    get: async () => `sit_${n}`,
    refresh: async (stale) => {
      refreshes.push(stale);
      n++;
      return `sit_${n}`;
    },
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("AGSRuntime", () => {
  it("sends X-Access-Token (and no X-API-Key) and retries a gateway 503", async () => {
    const seen: IncomingMessage["headers"][] = [];
    const url = await gateway((req, res) => {
      seen.push(req.headers);
      if (seen.length === 1) return json(res, 503, { message: "upstream not ready" });
      json(res, 200, { stdout: "ok\n", stderr: "", exit_code: 0 });
    });
    const rt = new AGSRuntime({ host: url, tokens: tokens(), retry_backoff: 0.01 });
    expect((await rt.execute({ command: "echo ok", shell: true })).stdout).toBe("ok\n");
    expect(seen).toHaveLength(2);
    expect(seen[0]?.["x-access-token"]).toBe("sit_1");
    expect(seen[0]?.["x-api-key"]).toBeUndefined();
    await rt.dispose();
  });

  it("maps a gateway 404 to EnvironmentExpiredError with the gateway's message", async () => {
    const url = await gateway((_req, res) =>
      json(res, 404, { code: 404, message: "sandbox instance abc not found or not running" }),
    );
    const rt = new AGSRuntime({ host: url, tokens: tokens() });
    const err = await rt.readFile({ path: "/x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentExpiredError);
    expect((err as Error).message).toBe(
      "AGS sandbox runtime endpoint returned 404: sandbox instance abc not found or not running. The sandbox instance likely expired or was stopped.",
    );
    await rt.dispose();
  });

  it("refreshes once on a 401 and resends with the new token; a second 401 is an error", async () => {
    const sent: string[] = [];
    const url = await gateway((req, res) => {
      sent.push(String(req.headers["x-access-token"]));
      json(res, 401, { message: "invalid or expired X-Access-Token" });
    });
    const t = tokens();
    const rt = new AGSRuntime({ host: url, tokens: t });
    const err = await rt.readFile({ path: "/x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteHttpError);
    expect((err as RemoteHttpError).status).toBe(401);
    expect(t.refreshes).toEqual(["sit_1"]);
    expect(sent).toEqual(["sit_1", "sit_2"]);
    await rt.dispose();
  });

  it("isAlive refreshes the token after a 401 and asks again", async () => {
    const url = await gateway((req, res) => {
      if (req.headers["x-access-token"] === "sit_1") return json(res, 401, { message: "expired" });
      json(res, 200, { is_alive: true, message: "" });
    });
    const t = tokens();
    const rt = new AGSRuntime({ host: url, tokens: t });
    expect(await rt.isAlive({ timeoutMs: 5000 })).toEqual({ is_alive: true, message: "" });
    expect(t.refreshes).toEqual(["sit_1"]);
    await rt.dispose();
  });
});
