import { describe, expect, it } from "vitest";
import { FleetHealth } from "../../src/controlplane/fleet-health.js";

function fleet() {
  const clock = { t: 1_000_000 };
  const reachable = new Set(["a", "b"]);
  const events: string[] = [];
  let failUp = false;
  const health = new FleetHealth({
    hosts: ["a", "b"],
    ping: async (host) => {
      if (!reachable.has(host)) throw new Error(`connect ECONNREFUSED (${host})`);
    },
    lostAfterMs: 30_000,
    now: () => clock.t,
    onDown: (h, e) => events.push(`down ${h}: ${e}`),
    onUp: async (h, ms) => {
      if (failUp) throw new Error("engine blinked");
      events.push(`up ${h} after ${ms}`);
    },
  });
  return { clock, reachable, events, health, setFailUp: (v: boolean) => (failUp = v) };
}

describe("fleet health", () => {
  it("marks an unreachable host down at once, lost after the grace period, and up again when it answers", async () => {
    const { clock, reachable, events, health } = fleet();
    await health.check();
    expect([health.isUp("a"), health.isUp("b")]).toEqual([true, true]);
    reachable.delete("a");
    await health.check();
    expect(health.isUp("a")).toBe(false);
    expect(health.get("a")).toMatchObject({ downSince: 1_000_000, lastError: "connect ECONNREFUSED (a)" });
    expect(health.lostHosts()).toEqual([]);
    clock.t += 29_999;
    await health.check();
    expect(health.lostHosts()).toEqual([]);
    clock.t += 1;
    expect(health.lostHosts()).toEqual(["a"]);
    // Still down: downSince keeps the start of the outage, onDown fired once.
    await health.check();
    expect(health.lostHosts()).toEqual(["a"]);
    reachable.add("a");
    clock.t += 5000;
    await health.check();
    expect(health.isUp("a")).toBe(true);
    expect(health.lostHosts()).toEqual([]);
    expect(events).toEqual(["down a: connect ECONNREFUSED (a)", "up a after 35000"]);
  });

  it("retries onUp on the next round when it failed", async () => {
    const { reachable, events, health, setFailUp } = fleet();
    reachable.delete("b");
    await health.check();
    reachable.add("b");
    setFailUp(true);
    await expect(health.check()).rejects.toThrow("engine blinked");
    expect(health.isUp("b")).toBe(true); // placement may use it meanwhile
    setFailUp(false);
    await health.check();
    await health.check();
    expect(events.filter((e) => e.startsWith("up"))).toEqual(["up b after 0"]);
  });

  it("a ping that ignores its timeout cannot stall the round", async () => {
    const health = new FleetHealth({
      hosts: ["slow"],
      ping: () => new Promise(() => {}),
      pingTimeoutMs: 50,
    });
    await health.check();
    expect(health.isUp("slow")).toBe(false);
    expect(health.get("slow")?.lastError).toBe("host slow did not answer within 50 ms");
  });
});
