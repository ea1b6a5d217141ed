/**
 * The client-side CLI against a real `swerex serve`: `swerex run` deploying through the service (and a
 * Ctrl-C of it stopping its sandbox), and `swerex sandbox create|list|get|lease|rm` with their exit statuses
 * (0 done, 1 refused by the service, 2 bad usage).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlaneClient, type SandboxResource } from "../../src/deployment/index.js";
import { until } from "../controlplane/serve.js";
import {
  busyboxImage,
  describeDocker,
  engineAvailable,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
} from "../docker/fixtures.js";
import { spawnSwerex } from "../helpers/cli.js";
import { type RunningServe, startServe } from "./serve.js";

let serve: RunningServe;
let client: ControlPlaneClient;
const label = fileLabel();

beforeAll(async () => {
  // The service's default deployment: busybox with the runtime bundle (a bash session for `swerex run`).
  const docker = engineAvailable
    ? [
        "--instances.deployment.type=docker",
        `--instances.deployment.image=${await busyboxImage()}`,
        "--instances.deployment.pull=never",
        `--instances.deployment.runtime_mount=${await testBundle()}`,
        `--instances.deployment.labels=${JSON.stringify(label.labels)}`,
      ]
    : ["--instances.deployment.type=local"];
  serve = await startServe({ args: docker });
  client = new ControlPlaneClient({ url: serve.url, apiKey: serve.apiKey });
}, 300_000);

afterAll(async () => {
  // Whatever a failed test left running.
  const page = await client?.list({ state: "running" }).catch(() => undefined);
  await Promise.allSettled((page?.items ?? []).map((s) => client.delete(s.id)));
  await serve?.stop();
  if (engineAvailable) await removeContainersWithLabel(label.filter);
});

/** `swerex ...` with the service's URL and key in the environment (as an operator would export them). */
function swerex(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSwerex(args, {
    env: { ...process.env, SWEREX_URL: serve.url, SWEREX_API_KEY: serve.apiKey, ...env },
  });
}

async function byMetadata(key: string, value: string): Promise<SandboxResource[]> {
  return (await client.list({ metadata: { [key]: value } })).items;
}

/** Each test spawns several CLI processes (~3 s each on a loaded two-core machine). */
const CLI_TESTS = { timeout: 240_000 };

describeDocker("swerex run through the service (its default deployment: docker busybox)", CLI_TESTS, () => {
  it("runs the command in a sandbox of the service, exits with its code, and deletes the sandbox", async () => {
    const tag = randomUUID();
    const { code, stdout, stderr } = await swerex([
      "run",
      "--instances.deployment.type=controlplane",
      `--instances.deployment.url=${serve.url}`,
      `--instances.deployment.metadata.test=${tag}`,
      "--",
      "echo hi; exit 3",
    ]).done;
    expect(stderr).not.toContain(serve.apiKey);
    expect(stdout).toBe("hi\n");
    expect(code).toBe(3);
    const [rec, ...more] = await byMetadata("test", tag);
    expect(more).toEqual([]);
    expect(rec?.state).toBe("stopped");
  });

  it("a bad url is a usage error (exit 2) naming the flag", async () => {
    const { code, stderr } = await swerex([
      "run",
      "--instances.deployment.type=controlplane",
      "--instances.deployment.url=127.0.0.1:8080",
      "--",
      "true",
    ]).done;
    expect(code).toBe(2);
    expect(stderr).toContain("--instances.deployment.url: must start with http:// or https://");
  });

  it("Ctrl-C of the client stops its sandbox on the service", async () => {
    const tag = randomUUID();
    const proc = swerex([
      "run",
      "--instances.deployment.type=controlplane",
      `--instances.deployment.metadata.test=${tag}`,
      "--",
      "echo started; sleep 120",
    ]);
    const running = await until(
      `a running sandbox; client output:\n${proc.output()}`,
      async () => (await byMetadata("test", tag)).find((s) => s.state === "running"),
      60_000,
    );
    proc.child.kill("SIGINT");
    expect(await proc.exited).toBe(130);
    expect((await client.get(running.id)).state).toBe("stopped");
  });
});

describe("swerex sandbox", CLI_TESTS, () => {
  it("create, list, get, lease, rm: one sandbox's life, as JSON and as tab-separated lines", async () => {
    const tag = randomUUID();
    const created = await swerex([
      "sandbox",
      "create",
      "--deployment.type=local",
      `--metadata.test=${tag}`,
      "--ttl",
      "300",
      "--json",
    ]).done;
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const sb = JSON.parse(created.stdout) as SandboxResource;
    expect(sb).toMatchObject({ state: "running", metadata: { test: tag }, deployment: { type: "local" } });

    const listed = await swerex(["sandbox", "list", `--metadata.test=${tag}`]).done;
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("ID\tSTATE\tBACKEND\tCREATED\tEXPIRES\tMETADATA");
    expect(lines.slice(1).map((l) => l.split("\t").slice(0, 3))).toEqual([[sb.id, "running", "local"]]);
    expect(lines[1]?.split("\t")[5]).toBe(`test=${tag}`);

    const got = await swerex(["sandbox", "get", sb.id, "--json"]).done;
    expect(JSON.parse(got.stdout)).toEqual(sb);

    const leased = await swerex(["sandbox", "lease", sb.id, "--ttl", "3000", "--json"]).done;
    expect(leased.code).toBe(0);
    const expires = Date.parse((JSON.parse(leased.stdout) as SandboxResource).expires_at as string);
    expect(expires).toBeGreaterThan(Date.parse(sb.expires_at as string));

    const removed = await swerex(["sandbox", "rm", sb.id]).done;
    expect(removed.code).toBe(0);
    expect(removed.stdout.split("\n")[1]?.split("\t").slice(0, 2)).toEqual([sb.id, "stopped"]);
    // Removing it again is fine.
    expect((await swerex(["sandbox", "rm", sb.id]).done).code).toBe(0);
    expect((await client.get(sb.id)).state).toBe("stopped");
  });

  it("--url and --api_key flags win over the environment", async () => {
    const r = await swerex(["sandbox", "list", "--url", serve.url, "--api_key", serve.apiKey, "--json"], {
      SWEREX_URL: "http://127.0.0.1:9",
      SWEREX_API_KEY: "sk-wrong",
    }).done;
    expect(r.code).toBe(0);
    expect(Array.isArray((JSON.parse(r.stdout) as { items: unknown[] }).items)).toBe(true);
  });

  it("service errors print status and message and exit 1; the key is never printed", async () => {
    const missing = await swerex(["sandbox", "get", "sbx-aaaaaaaaaaaaaaaaaaaa"]).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^swerex sandbox: 404 /);

    const wrong = `sk-wrong-${randomUUID()}`;
    const unauthorized = await swerex(["sandbox", "list"], { SWEREX_API_KEY: wrong }).done;
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/^swerex sandbox: 401 /);
    expect(unauthorized.stderr + unauthorized.stdout).not.toContain(wrong);

    const invalid = await swerex([
      "sandbox",
      "create",
      "--deployment.type=docker",
      "--deployment.pull=sometimes",
    ]).done;
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^swerex sandbox: 422 .*pull/);

    const down = await swerex(["sandbox", "list"], { SWEREX_URL: "http://127.0.0.1:9" }).done;
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("ECONNREFUSED");
  });

  it("usage errors exit 2", async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [["sandbox"], {}, /no subcommand/],
      [["sandbox", "frobnicate"], {}, /unknown subcommand "frobnicate"/],
      [["sandbox", "get"], {}, /get needs one sandbox id, got none/],
      [["sandbox", "list", "extra"], {}, /list takes no sandbox id/],
      [["sandbox", "list"], { SWEREX_URL: undefined }, /--url: required/],
      [["sandbox", "list", "--url", "ftp://x"], {}, /--url: must start with http:\/\/ or https:\/\//],
      [["sandbox", "list", "--limit", "0"], {}, /--limit/],
      [["sandbox", "list", "--bogus"], {}, /--bogus: unknown option/],
    ];
    for (const [args, env, message] of cases) {
      const r = await swerex(args, env).done;
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
  });
});
