import { describe, expect, it } from "vitest";
import { RequestIdCache } from "../../src/server/request-id-cache.js";

const reply = (payload: string) => ({ statusCode: 200, payload });

describe("RequestIdCache", () => {
  it("runs concurrent callers with one key once and gives all of them the same reply", async () => {
    const cache = new RequestIdCache();
    let runs = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const produce = async () => {
      runs += 1;
      await gate;
      return reply(`run ${runs}`);
    };
    const a = cache.run("k", produce);
    const b = cache.run("k", produce);
    release();
    expect(await a).toEqual(reply("run 1"));
    expect(await b).toBe(await a);
    expect(await cache.run("k", produce)).toEqual(reply("run 1"));
    expect(runs).toBe(1);
  });

  it("forgets the least recently used key beyond maxEntries", async () => {
    const cache = new RequestIdCache({ maxEntries: 2 });
    let runs = 0;
    const produce = async () => reply(String(++runs));
    await cache.run("a", produce);
    await cache.run("b", produce);
    await cache.run("a", produce); // hit: "a" becomes most recent
    await cache.run("c", produce); // evicts "b"
    expect(cache.size).toBe(2);
    expect((await cache.run("a", produce)).payload).toBe("1");
    expect((await cache.run("b", produce)).payload).toBe("4");
  });

  it("keeps the remembered payloads under maxBytes and skips a payload larger than all of it", async () => {
    const cache = new RequestIdCache({ maxBytes: 10 });
    let runs = 0;
    const produce = (payload: string) => async () => {
      runs += 1;
      return reply(payload);
    };
    await cache.run("big", produce("x".repeat(11)));
    await cache.run("big", produce("x".repeat(11)));
    expect(runs).toBe(2);
    await cache.run("a", produce("123456"));
    await cache.run("b", produce("123456")); // 12 bytes > 10: "a" goes
    expect(cache.size).toBe(1);
  });

  it("does not remember a producer that rejected, so the next attempt runs", async () => {
    const cache = new RequestIdCache();
    await expect(cache.run("k", async () => Promise.reject(new Error("crash")))).rejects.toThrow("crash");
    expect((await cache.run("k", async () => reply("ok"))).payload).toBe("ok");
  });
});
