import { describe, expect, it } from "vitest";
import { ScaleConfig } from "../../src/controlplane/fleet-config.js";

function issues(input: unknown): string[] {
  const r = ScaleConfig.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("scale-out config (docker_hosts, overflow, pools, admission)", () => {
  it("fills defaults for an empty config", () => {
    expect(ScaleConfig.parse({})).toEqual({
      docker_hosts: [],
      overflow: null,
      pools: [],
      host_lost_after: 30,
      admission: null,
    });
  });

  it("accepts unix, tcp (with TLS files) and ssh hosts", () => {
    const cfg = ScaleConfig.parse({
      docker_hosts: [
        { name: "local", docker_host: "unix:///var/run/docker.sock", max_sandboxes: 8 },
        {
          name: "gpu-1",
          docker_host: "tcp://10.0.0.5:2376",
          tls_ca: "/etc/swerex/ca.pem",
          tls_cert: "/etc/swerex/cert.pem",
          tls_key: "/etc/swerex/key.pem",
          max_sandboxes: 64,
          address: "http://10.0.0.5",
        },
        { name: "ssh-1", docker_host: "ssh://ops@10.0.0.6", max_sandboxes: 16 },
      ],
      overflow: { type: "tencentags", region: "ap-guangzhou" },
    });
    expect(cfg.docker_hosts.map((h) => h.address)).toEqual([
      "http://127.0.0.1",
      "http://10.0.0.5",
      "http://127.0.0.1",
    ]);
    expect(cfg.docker_hosts[1]?.tls_ca).toBe("/etc/swerex/ca.pem");
    expect(cfg.overflow).toEqual({ type: "tencentags", region: "ap-guangzhou" });
  });

  it("names the field of a bad host", () => {
    expect(issues({ docker_hosts: [{ name: "a", docker_host: "http://x:1", max_sandboxes: 1 }] })).toEqual([
      "docker_hosts.0.docker_host: docker_host http://x:1: scheme must be unix://, tcp:// or ssh://",
    ]);
    expect(issues({ docker_hosts: [{ name: "a", docker_host: "unix:///s", max_sandboxes: 0 }] })[0]).toMatch(
      /^docker_hosts\.0\.max_sandboxes: /,
    );
    expect(
      issues({ docker_hosts: [{ name: "a", docker_host: "unix:///s", max_sandboxes: 1, colour: 1 }] })[0],
    ).toMatch(/colour/);
  });

  it("rejects duplicate host and pool names", () => {
    expect(
      issues({
        docker_hosts: [
          { name: "a", docker_host: "unix:///s", max_sandboxes: 1 },
          { name: "a", docker_host: "unix:///t", max_sandboxes: 1 },
        ],
      }),
    ).toEqual(["docker_hosts.1.name: duplicate name a"]);
    expect(
      issues({
        pools: [
          { name: "p", size: 1 },
          { name: "p", size: 2 },
        ],
      }),
    ).toEqual(["pools.1.name: duplicate name p"]);
  });

  it("pools: max is optional and may not be below size; idle_ttl is optional", () => {
    const cfg = ScaleConfig.parse({ pools: [{ name: "bb", deployment: { image: "busybox" }, size: 3 }] });
    expect(cfg.pools[0]).toEqual({
      name: "bb",
      deployment: { image: "busybox" },
      size: 3,
      max: null,
      idle_ttl: null,
    });
    expect(issues({ pools: [{ name: "bb", size: 3, max: 2 }] })).toEqual([
      "pools.0.max: must be at least size (3), got 2",
    ]);
    expect(issues({ pools: [{ name: "bad name", size: 1 }] })[0]).toMatch(/^pools\.0\.name: /);
  });

  it("admission: queue_timeout and max_queue", () => {
    expect(ScaleConfig.parse({ admission: { queue_timeout: 5 } }).admission).toEqual({
      queue_timeout: 5,
      max_queue: 1000,
    });
    expect(issues({ admission: { queue_timeout: -1 } })[0]).toMatch(/^admission\.queue_timeout: /);
  });
});
