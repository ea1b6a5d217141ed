import { describe, expect, it } from "vitest";
import { chooseHost, fleetRoom, type HostLoad, placeMany } from "../../src/controlplane/placement.js";

const host = (name: string, active: number, max: number, hasImage = true, up = true): HostLoad => ({
  name,
  active,
  maxSandboxes: max,
  hasImage,
  up,
});

describe("placement over Docker hosts", () => {
  it("prefers a host that already has the image, even when it is busier", () => {
    expect(chooseHost([host("a", 0, 10, false), host("b", 7, 10, true)])).toBe("b");
  });

  it("then the least loaded by fraction of max_sandboxes", () => {
    expect(chooseHost([host("a", 4, 10), host("b", 5, 20)])).toBe("b");
    expect(chooseHost([host("a", 1, 4), host("b", 3, 4)])).toBe("a");
  });

  it("breaks ties by fewer active sandboxes, then by name", () => {
    expect(chooseHost([host("a", 2, 4), host("b", 1, 2)])).toBe("b");
    expect(chooseHost([host("b", 1, 4), host("a", 1, 4)])).toBe("a");
  });

  it("skips hosts that are full or down, and answers undefined when none has room", () => {
    expect(chooseHost([host("a", 3, 3), host("b", 0, 3, true, false), host("c", 2, 3, false)])).toBe("c");
    expect(chooseHost([host("a", 3, 3), host("b", 0, 3, true, false)])).toBeUndefined();
    expect(chooseHost([])).toBeUndefined();
  });

  it("spreads a batch over the fleet counting earlier choices, all-or-nothing", () => {
    const hosts = [host("a", 0, 2), host("b", 0, 2)];
    expect(placeMany(hosts, 4)).toEqual(["a", "b", "a", "b"]);
    expect(placeMany(hosts, 5)).toBeUndefined();
    // The input is not changed by a trial placement.
    expect(hosts.map((h) => h.active)).toEqual([0, 0]);
  });

  it("fills the hosts with the image before using one without it", () => {
    expect(placeMany([host("a", 0, 2, true), host("b", 0, 2, false)], 3)).toEqual(["a", "a", "b"]);
  });

  it("counts free room over hosts that are up only", () => {
    expect(fleetRoom([host("a", 1, 3), host("b", 0, 5, true, false), host("c", 4, 4)])).toBe(2);
  });
});
