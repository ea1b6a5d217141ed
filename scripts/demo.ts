/**
 * `npm run demo`: replays the recorded trajectories of examples/ through the real `swerex run-batch` on the
 * `local` deployment (no Docker, no model, no network: python3 and git are all it needs) and checks the
 * outcome: the three gold trajectories resolve their tasks, the broken one (examples__word-freq) does not.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const EXPECTED: Record<string, boolean> = {
  "examples__stats-median": true,
  "examples__slugify-dashes": true,
  "examples__duration-seconds": true,
  "examples__word-freq": false,
};

const out = await mkdtemp(join(tmpdir(), "swerex-demo-"));
const args = [
  "run-batch",
  "--instances.path=examples/tasks.jsonl",
  "--instances.deployment.type=local",
  "--policy.type=replay",
  "--policy.path=examples/trajectories.jsonl",
  "--num_workers=2",
  "--progress=off",
  `--output_dir=${out}`,
];
process.stdout.write(
  [
    "swerex demo: four example tasks (small Python repositories with a bug each, in examples/), each solved by",
    "the built-in bash agent replaying recorded model replies (examples/trajectories.jsonl) in a local sandbox,",
    "then graded by running the task's tests. Expected: the three gold trajectories resolve their tasks,",
    "the broken one (examples__word-freq) does not.",
    "",
    `$ swerex ${args.join(" ")}`,
    "",
  ].join("\n"),
);
const code = await new Promise<number>((done) => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/swerex.ts", ...args], {
    cwd: root,
    stdio: "inherit",
  });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.once("SIGINT", forward);
  child.on("close", (c) => {
    process.off("SIGINT", forward);
    done(c ?? 1);
  });
});
let ok = code === 0;
process.stdout.write("\nchecks:\n");
try {
  const lines = (await readFile(join(out, "results.jsonl"), "utf8")).trim().split("\n");
  const resolved = new Map(
    lines
      .map((l) => JSON.parse(l) as { instance_id: string; resolved: boolean | null })
      .map((r) => [r.instance_id, r.resolved]),
  );
  for (const [id, want] of Object.entries(EXPECTED)) {
    const got = resolved.get(id);
    const good = got === want;
    ok &&= good;
    process.stdout.write(
      `${good ? "ok  " : "FAIL"} ${id}: ${want ? "gold trajectory resolves" : "broken trajectory does not resolve"} (resolved=${got})\n`,
    );
  }
} catch (err) {
  ok = false;
  process.stdout.write(`FAIL no results: ${(err as Error).message}\n`);
} finally {
  await rm(out, { recursive: true, force: true });
}
process.stdout.write(
  ok
    ? "demo: OK (3 gold trajectories resolved, the broken one did not; the temporary output directory was removed)\n"
    : "demo: FAILED\n",
);
process.exit(ok ? 0 : 1);
