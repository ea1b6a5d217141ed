/** run-batch over the examples on the local deployment: results lines, resume skipping finished instances, redo. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../../src/cli/commands/run-batch.js";
import type { RolloutResult } from "../../../src/rollout/rollout.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "swerex-batch-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function streams() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  err.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return { out, err, text: () => ({ stdout, stderr }) };
}

async function batch(outputDir: string, extra: string[] = []) {
  const s = streams();
  const code = await run(
    [
      `--instances.path=${resolve("examples/tasks.jsonl")}`,
      "--instances.filter=stats-median|word-freq",
      "--policy.type=replay",
      `--policy.path=${resolve("examples/trajectories.jsonl")}`,
      "--num_workers=2",
      `--output_dir=${outputDir}`,
      ...extra,
    ],
    { stdout: s.out, stderr: s.err, env: {} },
  );
  return { code, ...s.text() };
}

async function lines(path: string): Promise<RolloutResult[]> {
  return (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RolloutResult);
}

describe("swerex run-batch (local deployment, replayed trajectories)", () => {
  it("writes one result line per instance, a summary table, and resumes by skipping finished instances", async () => {
    const out = join(dir, "run1");
    const first = await batch(out);
    expect(first.code).toBe(0);
    const results = await lines(join(out, "results.jsonl"));
    expect(results.map((r) => r.instance_id).sort()).toEqual([
      "examples__stats-median",
      "examples__word-freq",
    ]);
    const median = results.find((r) => r.instance_id === "examples__stats-median");
    expect(median).toMatchObject({
      status: "completed",
      failure_class: null,
      resolved: true,
      score: 1,
      turns: 4,
    });
    expect(median?.patch).toContain("+    return (ordered[middle - 1] + ordered[middle]) / 2");
    expect(median?.trajectory).toHaveLength(4);
    expect(Object.keys(median?.timings ?? {})).toEqual([
      "provision_s",
      "setup_s",
      "agent_s",
      "patch_s",
      "reward_s",
      "total_s",
    ]);
    expect(results.find((r) => r.instance_id === "examples__word-freq")).toMatchObject({
      resolved: false,
      score: 0,
    });
    // Not a TTY: one plain line per finished instance, then the table on stdout.
    expect(first.stderr).toMatch(/^\[1\/2\] examples__\S+: completed score=[01] \(\d+\.\ds\) \| 1\/2 done/m);
    expect(first.stderr).not.toContain("\r");
    expect(first.stdout).toMatch(/examples__stats-median\s+completed\s+submitted\s+-\s+yes\s+1\s+4/);
    expect(first.stdout).toContain("2 instances: 2 completed, 0 failed, 0 cancelled; 1 resolved (50.0%)");
    const calls = (await readFile(join(out, "model_calls.jsonl"), "utf8")).trim().split("\n").length;
    expect(calls).toBe(7);
    expect(JSON.parse(await readFile(join(out, "summary.json"), "utf8"))).toMatchObject({
      instances: 2,
      resolved: 1,
    });

    const second = await batch(out);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("run-batch: 2 instances, 2 already done (skipped)");
    expect(await lines(join(out, "results.jsonl"))).toHaveLength(2);
    expect((await readFile(join(out, "model_calls.jsonl"), "utf8")).trim().split("\n").length).toBe(calls);
    // The table still covers every instance, from the earlier run's lines.
    expect(second.stdout).toContain("2 instances: 2 completed");

    const redo = await batch(out, ["--redo_existing"]);
    expect(redo.code).toBe(0);
    expect(await lines(join(out, "results.jsonl"))).toHaveLength(4);
  });

  it("runs again an instance whose only line says cancelled", async () => {
    const out = join(dir, "run2");
    await batch(out, ["--instances.filter=stats-median"]);
    const [done] = await lines(join(out, "results.jsonl"));
    await writeFile(join(out, "results.jsonl"), `${JSON.stringify({ ...done, status: "cancelled" })}\n`);
    const again = await batch(out, ["--instances.filter=stats-median"]);
    expect(again.stderr).not.toContain("skipped");
    const all = await lines(join(out, "results.jsonl"));
    expect(all.map((r) => r.status)).toEqual(["cancelled", "completed"]);
  });

  it("exits 0 when an instance failed, and 1 with --fail_on_error", async () => {
    // A remote deployment with nothing listening: the sandbox never answers, so setup fails.
    const unreachable = [
      "--instances.filter=stats-median",
      "--instances.deployment.type=remote",
      "--instances.deployment.auth_token=x",
      "--instances.deployment.port=9",
    ];
    const plain = await batch(join(dir, "run-fail-1"), unreachable);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("1 instances: 0 completed, 1 failed");
    const strict = await batch(join(dir, "run-fail-2"), [...unreachable, "--fail_on_error"]);
    expect(strict.code).toBe(1);
  });

  it("names every bad flag and exits 2 without running anything", async () => {
    const s = streams();
    const code = await run(
      [
        "--instances.path=/nonexistent.jsonl",
        "--policy.type=magic",
        "--agent.max_turns=0",
        "--num_workers=0",
        "--reward.type=vibes",
      ],
      { stdout: s.out, stderr: s.err, env: {} },
    );
    const { stderr } = s.text();
    expect(code).toBe(2);
    expect(stderr).toContain("--num_workers");
    expect(stderr).toContain("--policy.type");
    expect(stderr).toContain("--agent.max_turns");
    expect(stderr).toContain("--reward.type");
  });

  it("reports a missing tasks file and a bad task line by name", async () => {
    const s = streams();
    const code = await run(["--instances.path=/nonexistent.jsonl", "--policy.type=trainer"], {
      stdout: s.out,
      stderr: s.err,
      env: {},
    });
    expect(code).toBe(2);
    expect(s.text().stderr).toContain("/nonexistent.jsonl");
    const bad = join(dir, "bad.jsonl");
    await writeFile(bad, '{"instance_id": "x"}\n');
    const s2 = streams();
    expect(
      await run([`--instances.path=${bad}`, "--policy.type=trainer"], {
        stdout: s2.out,
        stderr: s2.err,
        env: {},
      }),
    ).toBe(2);
    expect(s2.text().stderr).toContain(`${bad}:1: problem_statement`);
  });
});
