import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgsClient } from "../../src/deployment/ags/client.js";
import { InstanceTokenProvider, parseExpiresAt } from "../../src/deployment/ags/token.js";
import { type MockAgs, mockAgs } from "./nock-ags.js";

let mock: MockAgs | undefined;
beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  mock?.done();
  nock.cleanAll();
});

describe("parseExpiresAt", () => {
  it("reads ISO with Z or an offset, unix seconds and ms, else now + 1 h", () => {
    expect(parseExpiresAt("2025-09-12T09:00:03.094Z")).toBe(Date.UTC(2025, 8, 12, 9, 0, 3, 94));
    expect(parseExpiresAt("2026-08-25T17:00:27+08:00")).toBe(Date.UTC(2026, 7, 25, 9, 0, 27));
    expect(parseExpiresAt("1757667603")).toBe(1757667603000);
    expect(parseExpiresAt("1757667603094")).toBe(1757667603094);
    expect(parseExpiresAt("garbage", 5000)).toBe(5000 + 3_600_000);
    expect(parseExpiresAt(undefined, 5000)).toBe(5000 + 3_600_000);
  });
});

describe("InstanceTokenProvider", () => {
  let now = Date.UTC(2026, 0, 1);
  const iso = (ms: number) => new Date(ms).toISOString();
  function setup(lifetimeMs: number) {
    let n = 0;
    mock = mockAgs({
      AcquireSandboxInstanceToken: (body) => {
        expect(body).toEqual({ InstanceId: "inst-1" });
        n++;
        return { Token: `sit_token${n}`, ExpiresAt: iso(now + lifetimeMs) };
      },
    });
    const client = new AgsClient({ secretId: "id", secretKey: "key", region: "r", rateLimit: 1000 });
    return new InstanceTokenProvider(client, "inst-1", { now: () => now });
  }

  it("refreshes 60 s before ExpiresAt, not earlier", async () => {
    const t = setup(3_600_000);
    expect(await t.get()).toBe("sit_token1");
    now += 3_600_000 - 61_000;
    expect(await t.get()).toBe("sit_token1");
    now += 2_000; // 59 s left
    expect(await t.get()).toBe("sit_token2");
    expect(t.acquisitions).toBe(2);
  });

  it("concurrent callers share one acquisition", async () => {
    const t = setup(3_600_000);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => t.get()));
    expect(new Set(tokens)).toEqual(new Set(["sit_token1"]));
    expect(mock?.callsOf("AcquireSandboxInstanceToken")).toHaveLength(1);
  });

  it("a refresh for a stale token is skipped when another caller already replaced it", async () => {
    const t = setup(3_600_000);
    const first = await t.get();
    const [a, b] = await Promise.all([t.refresh(first), t.refresh(first)]);
    expect([a, b]).toEqual(["sit_token2", "sit_token2"]);
    expect(await t.refresh(first)).toBe("sit_token2");
    expect(t.acquisitions).toBe(2);
  });

  it("short-lived tokens refresh at half their lifetime", async () => {
    const t = setup(4_000);
    await t.get();
    now += 1_900;
    expect(await t.get()).toBe("sit_token1");
    now += 200;
    expect(await t.get()).toBe("sit_token2");
  });

  it("invalidate() forces a new token (after a resume)", async () => {
    const t = setup(3_600_000);
    await t.get();
    t.invalidate();
    expect(await t.get()).toBe("sit_token2");
  });
});
