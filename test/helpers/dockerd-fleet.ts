/**
 * Extra Debian dockerd engines for fleet tests, side by side with the shared engine and never touching it:
 * each listens on its own loopback address (tcp://127.0.0.N:PORT) and a unix socket, keeps its own
 * --data-root, --exec-root and --pidfile under one directory of this run, and owns a bridge made here
 * (`swxb<run><i>` with an address in a free private /24), so no two engines share `docker0`. They run with
 * --iptables=false, --ip-forward=false and --ip-masq=false: the shared engine's iptables chains, FORWARD
 * policy and ip_forward stay exactly as they were, and published ports still work through docker-proxy
 * (the host reaches containers over the bridge route; nothing is forwarded or NATed).
 *
 * `stopEngine`/`startEngine` make one engine go away and come back (its containers stop with it, as a host
 * that reboots); `destroy` stops every engine, kills anything left under its directory, unmounts, deletes the
 * bridges and the directories. Every wait has a deadline; an `exit` hook is the last safety net.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import type Docker from "dockerode";
import { pingEngine } from "../../src/docker/engine.js";
import { dockerClientFor } from "../../src/docker/hosts.js";
import { ensureBusyboxImage } from "../docker/images.js";
import { waitForProcessGone } from "./process.js";

/** Under /var/lib (ext4): overlay2 needs a real filesystem, and socket paths must stay short (108 bytes). */
const FLEET_ROOT = "/var/lib/swerex-test-fleet";
/** A cold dockerd answers in ~0.7 s alone; two loaded cores and several engines at once need far more. */
const READY_TIMEOUT_MS = 60_000;
/** dockerd stops its containers (10 s grace each, in parallel) before exiting. */
const STOP_TIMEOUT_MS = 30_000;
const SUBNET_PREFIX = "10.251";

export interface FleetEngine {
  /** Name used in fleet configs (`docker_hosts[].name`). */
  name: string;
  /** tcp://127.0.0.N:PORT, what a `docker_hosts` entry points at. */
  dockerHost: string;
  /** The same engine over its unix socket (unix://...). */
  socketUrl: string;
  bridge: string;
  /** The bridge's /24, e.g. 10.251.7.0/24. */
  subnet: string;
  dir: string;
  /** Client over tcp (what the service uses). */
  docker: Docker;
  /** Running dockerd's pid, undefined while stopped. */
  pid: number | undefined;
}

export interface DockerdFleet {
  engines: FleetEngine[];
  engine(name: string): FleetEngine;
  /** SIGTERM the engine's dockerd and wait for it (and its containerd) to be gone; keeps data and bridge. */
  stopEngine(name: string): Promise<void>;
  /** Starts a stopped engine again on the same address, socket, data and bridge; resolves once it answers. */
  startEngine(name: string): Promise<void>;
  /** Stops every engine and removes bridges and directories. Safe to call twice, and after a failed start. */
  destroy(): Promise<void>;
}

export interface FleetOptions {
  /** Engine names, one engine each (2 or 3 in the tests). */
  names: string[];
  /** Engines that get the busybox test image (default: all). */
  withBusybox?: string[];
}

/** Why fleet tests cannot run here, or undefined when they can (root, dockerd and ip present). */
export function fleetUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "fleet tests start dockerd engines and bridges: they need root";
  for (const bin of ["/usr/sbin/dockerd", "/usr/sbin/ip"]) {
    if (!existsSync(bin)) return `fleet tests need ${bin} (apt-get install docker.io iproute2)`;
  }
  return undefined;
}

function ip(args: string[]): string {
  return execFileSync("/usr/sbin/ip", args, { encoding: "utf8", timeout: 10_000 });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** A /24 under 10.251 that no interface or route uses yet. */
function freeSubnet(taken: Set<string>): string {
  const routes = ip(["-4", "route", "show", "table", "all"]) + ip(["-4", "addr"]);
  for (let attempt = 0; attempt < 200; attempt++) {
    const third = 1 + ((randomBytes(1)[0] ?? 0) % 254);
    const net = `${SUBNET_PREFIX}.${third}`;
    if (!routes.includes(`${net}.`) && !taken.has(net)) {
      taken.add(net);
      return net;
    }
  }
  throw new Error(`no free /24 under ${SUBNET_PREFIX}.0.0/16`);
}

/** Pids of processes whose command line mentions `dir` (the engine's containerd and shims). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Lazily unmounts whatever dockerd left mounted under `dir` (netns, overlay, shm), deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync("umount", ["-l", m], { timeout: 10_000, stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

interface EngineState extends FleetEngine {
  child: ChildProcess | undefined;
  address: string;
  port: number;
}

export async function startDockerdFleet(opts: FleetOptions): Promise<DockerdFleet> {
  const reason = fleetUnavailable();
  if (reason) throw new Error(reason);
  const run = randomBytes(2).toString("hex");
  const root = join(FLEET_ROOT, run);
  const taken = new Set<string>();
  const engines: EngineState[] = [];
  let destroyed = false;

  const exitHook = (): void => {
    // Last resort when afterAll never ran: the process is going, so only synchronous calls work here.
    for (const e of engines) {
      if (e.pid) {
        try {
          process.kill(e.pid, "SIGTERM");
        } catch {
          // gone
        }
      }
    }
  };
  process.once("exit", exitHook);

  async function launch(e: EngineState): Promise<void> {
    await mkdir(e.dir, { recursive: true });
    const log = openSync(join(e.dir, "dockerd.log"), "a");
    const child = spawn(
      "/usr/sbin/dockerd",
      [
        "--storage-driver=overlay2",
        `--data-root=${join(e.dir, "data")}`,
        `--exec-root=${join(e.dir, "x")}`,
        `--pidfile=${join(e.dir, "dockerd.pid")}`,
        `-H=${e.socketUrl}`,
        `-H=${e.dockerHost}`,
        `--bridge=${e.bridge}`,
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
      ],
      { stdio: ["ignore", log, log] },
    );
    closeSync(log);
    e.child = child;
    e.pid = child.pid;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code, signal) =>
        reject(
          new Error(`dockerd ${e.name} exited during start-up (${code ?? signal}); see ${e.dir}/dockerd.log`),
        ),
      ),
    );
    exited.catch(() => {});
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const up = await Promise.race([
        pingEngine(e.docker, 2000).then(
          () => true,
          () => false,
        ),
        exited,
      ]);
      if (up) return;
      if (Date.now() > deadline) {
        throw new Error(
          `dockerd ${e.name} did not answer within ${READY_TIMEOUT_MS / 1000}s (${e.dir}/dockerd.log)`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function halt(e: EngineState): Promise<void> {
    const pid = e.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
      if (!(await waitForProcessGone(pid, STOP_TIMEOUT_MS))) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
        await waitForProcessGone(pid, 10_000);
      }
    }
    e.pid = undefined;
    e.child = undefined;
    // dockerd takes its containerd along; after a SIGKILL its containerd and shims would stay: end them.
    for (const left of processesUnder(e.dir)) {
      try {
        process.kill(left, "SIGKILL");
      } catch {
        // gone
      }
      await waitForProcessGone(left, 10_000);
    }
    unmountUnder(e.dir);
  }

  const fleet: DockerdFleet = {
    engines,
    engine(name) {
      const e = engines.find((x) => x.name === name);
      if (!e) throw new Error(`no engine ${name} in this fleet`);
      return e;
    },
    async stopEngine(name) {
      await halt(fleet.engine(name) as EngineState);
    },
    async startEngine(name) {
      const e = fleet.engine(name) as EngineState;
      if (e.pid !== undefined) throw new Error(`engine ${name} is running`);
      await launch(e);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.all(engines.map((e) => halt(e)));
      for (const e of engines) {
        try {
          ip(["link", "delete", e.bridge]);
        } catch {
          // never created, or already gone
        }
      }
      await rm(root, { recursive: true, force: true });
      process.removeListener("exit", exitHook);
    },
  };

  try {
    for (const [i, name] of opts.names.entries()) {
      const address = `127.0.0.${i + 2}`;
      const port = await freePort(address);
      const net = freeSubnet(taken);
      const bridge = `swxb${run}${i}`;
      const dir = join(root, String(i));
      const dockerHost = `tcp://${address}:${port}`;
      const e: EngineState = {
        name,
        address,
        port,
        dockerHost,
        socketUrl: `unix://${join(dir, "d.sock")}`,
        bridge,
        subnet: `${net}.0/24`,
        dir,
        docker: dockerClientFor(dockerHost),
        pid: undefined,
        child: undefined,
      };
      engines.push(e);
      ip(["link", "add", "name", bridge, "type", "bridge"]);
      ip(["addr", "add", `${net}.1/24`, "dev", bridge]);
      ip(["link", "set", bridge, "up"]);
    }
    // One at a time: each dockerd start is CPU-heavy on two cores, and parallel starts only time out.
    for (const e of engines) await launch(e);
    const withImage = opts.withBusybox ?? opts.names;
    for (const e of engines) if (withImage.includes(e.name)) await ensureBusyboxImage(e.docker);
  } catch (err) {
    await fleet.destroy();
    throw err;
  }
  return fleet;
}
