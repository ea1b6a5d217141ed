/**
 * `swerex run-batch` on the Docker deployment over the example tasks (Debian image with bash, git, python3;
 * no pytest, no network): gold trajectories resolve, the broken one does not, no container is left. Then a
 * SIGINT in the middle of a run: the CLI exits 130 and every container of the run is gone.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { run } from "../../../src/cli/commands/run-batch.js";
import type { RolloutResult } from "../../../src/rollout/rollout.js";
import {
  containersWithLabel,
  debianImage,
  describeDocker,
  fileLabel,
  removeContainersWithLabel,
  testBundle,
} from "../../docker/fixtures.js";
import { spawnSwerex } from "../../helpers/cli.js";

const label = fileLabel();
let dir = "";
let image = "";
let bundle = "";

async function configFile(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    stringify({
      instances: {
        path: resolve("examples/tasks.jsonl"),
        deployment: {
          type: "docker",
          image,
          pull: "never",
          runtime_mount: bundle,
          startup_timeout: 120,
          labels: label.labels,
        },
      },
      ...extra,
    }),
  );
  return path;
}

describeDocker("run-batch on the Docker deployment", { timeout: 600_000 }, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "swerex-docker-batch-"));
    [image, bundle] = await Promise.all([debianImage(), testBundle()]);
  }, 20 * 60_000);

  afterAll(async () => {
    expect(await removeContainersWithLabel(label.filter)).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it("replays the example trajectories: gold ones resolve, the broken one does not, no container left", async () => {
    const out = join(dir, "out");
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let log = "";
    for (const s of [stdout, stderr]) s.on("data", (d: Buffer) => (log += d.toString()));
    const code = await run(
      [
        `--config=${await configFile("batch.yaml")}`,
        "--policy.type=replay",
        `--policy.path=${resolve("examples/trajectories.jsonl")}`,
        "--num_workers=2",
        `--output_dir=${out}`,
      ],
      { stdout, stderr, env: {} },
    );
    expect(code, log).toBe(0);
    const results = (await readFile(join(out, "results.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as RolloutResult);
    const resolved = Object.fromEntries(results.map((r) => [r.instance_id, r.resolved]));
    expect(resolved, log).toEqual({
      "examples__stats-median": true,
      "examples__slugify-dashes": true,
      "examples__duration-seconds": true,
      "examples__word-freq": false,
    });
    for (const r of results) expect(r.status).toBe("completed");
    expect(await containersWithLabel(label.filter)).toEqual([]);
  });

  it("SIGINT mid-run: exit 130, every container of the run removed", async () => {
    // A recording whose every step runs a long command, so the SIGINT lands while sandboxes are busy.
    const recording = join(dir, "sleepy.jsonl");
    const lines = ["examples__stats-median", "examples__slugify-dashes"].map((id) =>
      JSON.stringify({
        session_id: id,
        step: 0,
        request: { messages: [] },
        response: { content: "```bash\nsleep 300\n```", finish_reason: "stop" },
        started_at: new Date().toISOString(),
        duration_ms: 0,
      }),
    );
    await writeFile(recording, `${lines.join("\n")}\n`);
    const { child, done, exited, output } = spawnSwerex(
      [
        "run-batch",
        `--config=${await configFile("sigint.yaml")}`,
        "--instances.filter=stats-median|slugify",
        "--policy.type=replay",
        `--policy.path=${recording}`,
        "--num_workers=2",
        `--output_dir=${join(dir, "sigint-out")}`,
      ],
      { timeoutMs: 600_000 },
    );
    try {
      // Wait until both sandboxes are up and their agents busy.
      const deadline = Date.now() + 240_000;
      while ((await containersWithLabel(label.filter)).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
      }
      expect((await containersWithLabel(label.filter)).length, output()).toBe(2);
      await new Promise((r) => setTimeout(r, 3000));
      child.kill("SIGINT");
      const code = await Promise.race([
        exited,
        new Promise<"hung">((r) => setTimeout(() => r("hung"), 90_000)),
      ]);
      expect(code, output()).toBe(130);
      expect(await containersWithLabel(label.filter)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
      await done;
    }
  });
});
