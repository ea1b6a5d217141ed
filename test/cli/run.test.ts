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

/** Runs `swerex <args>` from the sources, as a user would; `onStart` may poke the running process. */
function swerex(
  args: string[],
  opts: { env?: Record<string, string>; onStart?: (c: ChildProcess) => void } = {},
) {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (k.startsWith("SWEREX_") && !opts.env?.[k]) delete env[k];
  const { child, done } = spawnSwerex(args, { env, timeoutMs: 90_000 });
  children.add(child);
  opts.onStart?.(child);
  return done;
}

describe("swerex run (real process)", () => {
  it("prints the command's output and exits with its exit code", async () => {
    const r = await swerex(["run", "--instances.deployment.type=local", "--", "echo hi; exit 3"]);
    expect(r.stdout).toBe("hi\n");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("swerex: Starting runtime\n");
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
      expect(r.stderr).toMatch(/^swerex run: .*401/m);
      expect(r.stderr).not.toContain("wrong");
    } finally {
      await server.close();
    }
  });

  it("exits 124 when --timeout is reached", async () => {
    const r = await swerex(["run", "--instances.deployment.type=local", "--timeout", "1", "--", "sleep 30"]);
    expect(r.code).toBe(124);
    expect(r.stderr).toContain("swerex run: the command did not finish within 1s");
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

  it("stops the deployment on SIGINT and exits 130", async () => {
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
    expect(r.stderr).toContain("swerex: Stopping deployment\n");
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
