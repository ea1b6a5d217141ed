/**
 * SIGINT in the middle of `swerex run-batch` on the local deployment: the CLI exits 130 only after the running
 * agents' commands are killed and their scratch checkouts removed (a local "sandbox" is this machine).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnSwerex } from "../../helpers/cli.js";

let dir = "";
const tag = `sigint${process.pid}x${Date.now()}`;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "swerex-sigint-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scratchDirs(): Promise<string[]> {
  return (await readdir("/tmp")).filter((n) => n.startsWith(`swerex-task-${tag}`));
}

it("SIGINT mid-run: exit 130, commands killed, scratch checkouts removed", { timeout: 180_000 }, async () => {
  const rows = (await readFile(resolve("examples/tasks.jsonl"), "utf8")).trim().split("\n").slice(0, 2);
  const tasks = rows.map((l, i) => {
    const row = JSON.parse(l);
    return JSON.stringify({
      ...row,
      instance_id: `${tag}-${i}`,
      repo_dir: resolve("examples", row.repo_dir),
      repo_files: { "run_tests.py": resolve("examples/tools/run_tests.py") },
    });
  });
  await writeFile(join(dir, "tasks.jsonl"), `${tasks.join("\n")}\n`);
  const recording = tasks.map((_, i) =>
    JSON.stringify({
      session_id: `${tag}-${i}`,
      step: 0,
      request: { messages: [] },
      response: { content: `\`\`\`bash\nsleep 300 # ${tag}\n\`\`\``, finish_reason: "stop" },
      started_at: new Date().toISOString(),
      duration_ms: 0,
    }),
  );
  await writeFile(join(dir, "rec.jsonl"), `${recording.join("\n")}\n`);
  const { child, done, exited, output } = spawnSwerex(
    [
      "run-batch",
      `--instances.path=${join(dir, "tasks.jsonl")}`,
      "--policy.type=replay",
      `--policy.path=${join(dir, "rec.jsonl")}`,
      "--num_workers=2",
      `--output_dir=${join(dir, "out")}`,
    ],
    { timeoutMs: 600_000 },
  );
  const running = () =>
    execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(tag) && l.startsWith("timeout"));
  try {
    const deadline = Date.now() + 120_000;
    while (running().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    expect(running().length, output()).toBe(2);
    expect((await scratchDirs()).length).toBe(2);
    child.kill("SIGINT");
    const code = await Promise.race([
      exited,
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 60_000)),
    ]);
    expect(code, output()).toBe(130);
    expect(running()).toEqual([]);
    expect(await scratchDirs()).toEqual([]);
    expect(
      existsSync(join(dir, "out", "results.jsonl"))
        ? await readFile(join(dir, "out", "results.jsonl"), "utf8")
        : "",
    ).not.toContain('"status":"completed"');
  } finally {
    child.kill("SIGKILL");
    await done;
  }
});
