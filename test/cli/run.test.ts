import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startRuntimeServer } from "../../src/server/index.js";
import { spawnSwerex } from "../helpers/cli.js";
import { waitForProcessGone } from "../helpers/process.js";

const children = new Set<ChildProcess>();
const dir = mkdtempSync(join(tmpdir(), "swerex-run-test-"));
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The `msg` of every JSON log line on stderr (a pipe, so logs are JSON), other lines left out. */
function logMessages(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
}

/** Polls `cond` every 100 ms until it holds or `ms` pass; whether it held. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return cond();
}

/** This process's environment without SWEREX_* settings (a developer's would change the outcome), plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (k.startsWith("SWEREX_") && !extra[k]) delete env[k];
  return env;
}

/** Runs `swerex <args>` from the sources, as a user would; `onStart` may poke the running process. */
function swerex(
  args: string[],
  opts: { env?: Record<string, string>; onStart?: (c: ChildProcess) => void } = {},
) {
  const { child, done } = spawnSwerex(args, { env: cleanEnv(opts.env), timeoutMs: 90_000 });
  children.add(child);
  opts.onStart?.(child);
  return done;
}

describe("swerex run (real process)", () => {
  it("prints the command's output and exits with its exit code", async () => {
    const r = await swerex(["run", "--instances.deployment.type=local", "--", "echo hi; exit 3"]);
    expect(r.stdout).toBe("hi\n");
    expect(r.code).toBe(3);
    expect(logMessages(r.stderr)).toEqual(["Starting runtime", "Stopping deployment"]);
  });

  it("logs JSON lines when stderr is not a terminal, pretty lines when asked", async () => {
    const j = await swerex(["run", "--instances.deployment.type=local", "--", "true"]);
    const first = JSON.parse(j.stderr.split("\n")[0] ?? "") as Record<string, unknown>;
    expect(first).toMatchObject({ level: 30, name: "swerex run", msg: "Starting runtime" });
    const p = await swerex(["run", "--instances.deployment.type=local", "--", "true"], {
      env: { SWEREX_LOG_FORMAT: "pretty" },
    });
    expect(p.stderr).toMatch(/^\[\d\d:\d\d:\d\d\] INFO \(swerex run\): Starting runtime$/m);
  });

  it("streams the command's output while it runs", async () => {
    const flag = join(dir, "go-on");
    const { child, done, output } = spawnSwerex(
      [
        "run",
        "--instances.deployment.type=local",
        "--",
        `echo first; until [ -e ${flag} ]; do sleep 0.1; done; echo second`,
      ],
      { env: cleanEnv(), timeoutMs: 90_000 },
    );
    children.add(child);
    // "first" arrives while the command still waits for the flag, i.e. before the command ended.
    expect(await waitFor(() => output().includes("first\n"), 60_000)).toBe(true);
    expect(child.exitCode).toBeNull();
    writeFileSync(flag, "");
    const r = await done;
    expect(r.stdout).toBe("first\nsecond\n");
    expect(r.code).toBe(0);
  });

  it("on --timeout prints what the command produced until then", async () => {
    const r = await swerex([
      "run",
      "--instances.deployment.type=local",
      "--timeout",
      "2",
      "--",
      "echo partial; sleep 30",
    ]);
    expect(r.code).toBe(124);
    expect(r.stdout).toBe("partial\n");
    expect(logMessages(r.stderr)).toContain("the command did not finish within 2s");
  });

  it("an unreachable Docker engine says where it looked and how to point at one", async () => {
    const r = await swerex(["run", "--instances.deployment.type=docker", "--", "true"], {
      env: { DOCKER_HOST: "unix:///nonexistent/swerex-test.sock" },
    });
    expect(r.code).toBe(125);
    const [msg] = logMessages(r.stderr).filter((m) => m.startsWith("No Docker engine"));
    expect(msg).toBe(
      "No Docker engine is reachable at unix:///nonexistent/swerex-test.sock: no socket there.\n" +
        "Point DOCKER_HOST at a running engine (export DOCKER_HOST=unix:///path/to/docker.sock, or " +
        "tcp://HOST:2375), or install and start one (Debian: apt-get install docker.io; then systemctl " +
        "start docker, or run dockerd in the background). See docs/docker.md.",
    );
  });

  it("prints output exactly as the session produced it, stderr included", async () => {
    const r = await swerex([
      "run",
      "--instances.deployment.type=local",
      "--",
      "printf 'a\\n\\nb'; echo err >&2",
    ]);
    expect(r.stdout).toBe("a\n\nberr\n");
    expect(r.code).toBe(0);
  });

  it("takes the deployment type from SWEREX_ env vars and a config file, and hides progress above info", async () => {
    const file = join(dir, "c.yaml");
    // `policy` belongs to another command: a shared file may hold it.
    writeFileSync(file, "log_level: warn\npolicy:\n  type: x\ninstances:\n  deployment:\n    type: docker\n");
    const r = await swerex(["run", "--config", file, "--", "echo env"], {
      env: { SWEREX_INSTANCES__DEPLOYMENT__TYPE: "local" },
    });
    expect(r.stdout).toBe("env\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("runs against an already running swerex-remote with type=remote", async () => {
    const server = await startRuntimeServer({ authToken: "run-test-token" });
    try {
      const r = await swerex([
        "run",
        "--instances.deployment.type=remote",
        "--instances.deployment.auth_token=run-test-token",
        `--instances.deployment.port=${server.port}`,
        "--",
        "echo remote; exit 7",
      ]);
      expect(r.stdout).toBe("remote\n");
      expect(r.code).toBe(7);
    } finally {
      await server.close();
    }
  });

  it("exits 125 when the deployment fails, with the reason on stderr", async () => {
    const server = await startRuntimeServer({ authToken: "right" });
    try {
      const r = await swerex([
        "run",
        "--instances.deployment.type=remote",
        "--instances.deployment.auth_token=wrong",
        `--instances.deployment.port=${server.port}`,
        "--",
        "true",
      ]);
      expect(r.code).toBe(125);
      expect(logMessages(r.stderr).join("\n")).toMatch(/401/);
      expect(r.stderr).not.toContain("wrong");
    } finally {
      await server.close();
    }
  });

  it("exits 124 when --timeout is reached", async () => {
    const r = await swerex(["run", "--instances.deployment.type=local", "--timeout", "1", "--", "sleep 30"]);
    expect(r.code).toBe(124);
    expect(logMessages(r.stderr)).toContain("the command did not finish within 1s");
  });

  it("rejects a bad config with exit 2 and a message naming the flag", async () => {
    const r = await swerex([
      "run",
      "--instances.deployment.type=local",
      "--instances.deployment.image=x",
      "--",
      "true",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'swerex run: --instances.deployment.image: unknown key for deployment type "local"; accepted keys: type\n',
    );
    const p = await swerex([
      "run",
      "--instances.deployment.type=docker",
      "--instances.deployment.pull=sometimes",
      "--",
      "true",
    ]);
    expect(p.code).toBe(2);
    expect(p.stderr).toBe(
      'swerex run: --instances.deployment.pull: expected one of never|always|missing, got "sometimes"\n',
    );
    const t = await swerex(["run", "--instances.deployment.type=local", "--timeout=soon", "--", "true"]);
    expect(t.code).toBe(2);
    expect(t.stderr).toBe('swerex run: --timeout: expected number, got "soon"\n');
  });

  it("stops the deployment on SIGINT and exits 130, saying it was interrupted", async () => {
    const pidFile = join(dir, "pid");
    let sent = false;
    const r = await swerex(
      ["run", "--instances.deployment.type=local", "--", `echo $$ > ${pidFile}; sleep 60`],
      {
        onStart: (c) => {
          const poll = setInterval(() => {
            if (!sent && existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "") {
              sent = true;
              clearInterval(poll);
              c.kill("SIGINT");
            }
          }, 100);
          c.on("close", () => clearInterval(poll));
        },
      },
    );
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    // The command ended because the registry stopped its deployment, before the process exited.
    expect(r.stderr).toContain("swerex: SIGINT received, stopping deployments");
    // The session died under the command (an EOF), but what the user did was press Ctrl-C.
    expect(logMessages(r.stderr)).toEqual([
      "Starting runtime",
      "interrupted by SIGINT",
      "Stopping deployment",
    ]);
    expect(r.stderr).not.toContain("End Of File");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(await waitForProcessGone(pid, 20_000)).toBe(true);
  });

  it("prints run's usage with --help", async () => {
    const r = await swerex(["run", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: swerex run [flags] -- 'command'");
  });
});

describe("swerex dispatcher", () => {
  it("--help lists the commands with one-line descriptions", async () => {
    const r = await swerex(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^ {2}run +start a deployment, run one command in a bash session, print its output, stop$/m,
    );
  });

  it("--version prints package.json's version", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as {
      version: string;
    };
    const r = await swerex(["--version"]);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.code).toBe(0);
  });

  it("rejects an unknown command with exit 2", async () => {
    const r = await swerex(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^swerex: unknown command "frobnicate"; commands: .*\brun\b/);
  });
});
