/**
 * `swerex prepare-data --format parquet`: the files pyarrow reads back hold exactly the rows of the JSONL
 * output, nested fields with their shape (an empty `repo_content` is an empty list, not a struct of other
 * rows' file names), and each row read back is the same task again; `run-batch --instances.path x.parquet`
 * loads the same tasks as from the JSONL. The pyarrow read-back needs Python's pyarrow: skipped with a
 * message when it is missing and CI is unset; under CI=true a missing pyarrow fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pathKeyedToLists } from "../../../src/rollout/data/parquet.js";
import { loadTasks } from "../../../src/rollout/tasks/load.js";
import { parseTask } from "../../../src/rollout/tasks/task.js";
import { spawnSwerex } from "../../helpers/cli.js";

const hasPyarrow = spawnSync("python3", ["-c", "import pyarrow"], { stdio: "ignore" }).status === 0;
if (!hasPyarrow && process.env.CI === "true") {
  throw new Error("pyarrow is required under CI=true (.ci/python-deps.sh installs it)");
}
if (!hasPyarrow)
  console.warn("prepare-parquet tests skipped: python3 cannot import pyarrow (pip install pyarrow)");

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "swerex-prepare-parquet-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const READ_BACK = `
import json, sys
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
print(json.dumps({"schema": {f.name: str(f.type) for f in table.schema}, "rows": table.to_pylist()}))
`;

interface ReadBack {
  schema: Record<string, string>;
  rows: Array<Record<string, unknown>>;
}

function readBack(path: string): ReadBack {
  return JSON.parse(
    execFileSync("python3", ["-c", READ_BACK, path], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }),
  ) as ReadBack;
}

async function prepare(args: string[]): Promise<void> {
  const r = await spawnSwerex(["prepare-data", ...args], { timeoutMs: 120_000 }).done;
  expect(r.code, r.stderr).toBe(0);
}

/** Writes the same data as parquet and as JSONL into `out`. */
async function prepareBoth(args: string[], out: string): Promise<void> {
  await prepare([...args, `--output_dir=${out}`, "--format=parquet"]);
  await prepare([...args, `--output_dir=${out}`]);
}

const SWEBENCH_ARGS = [
  "--mode=swebench",
  "--swebench_train=examples/tasks.jsonl",
  "--swebench_test=examples/tasks.jsonl",
];

async function jsonlRows(path: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `expected` with every key the read-back has and `expected` lacks set to null (other rows had it). */
function withNulls(expected: unknown, actual: unknown): unknown {
  if (Array.isArray(expected) && Array.isArray(actual))
    return expected.map((e, i) => withNulls(e, actual[i]));
  if (typeof expected !== "object" || expected === null || typeof actual !== "object" || actual === null) {
    return expected;
  }
  const e = expected as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(actual))
    out[k] = k in e ? withNulls(e[k], (actual as Record<string, unknown>)[k]) : null;
  return out;
}

describe.skipIf(!hasPyarrow)("prepare-data --format parquet read back with pyarrow", () => {
  it("simple mode: the same rows as the JSONL, repo_content a list<struct{path, content}>", async () => {
    await prepare([
      "--mode=simple",
      "--train_size=20",
      "--test_size=7",
      `--output_dir=${join(dir, "pq")}`,
      "--format=parquet",
    ]);
    await prepare(["--mode=simple", "--train_size=20", "--test_size=7", `--output_dir=${join(dir, "js")}`]);
    for (const split of ["train", "test"]) {
      const back = readBack(join(dir, "pq", `${split}.parquet`));
      const rows = await jsonlRows(join(dir, "js", `${split}.jsonl`));
      expect(back.rows).toHaveLength(rows.length);
      expect(back.rows).toEqual(rows.map((r) => pathKeyedToLists(r)));
      expect(back.schema.prompt).toBe("list<element: struct<role: string, content: string>>");
      expect(back.schema.extra_info).toContain(
        "repo_content: list<element: struct<path: string, content: string>>",
      );
      expect(back.schema.extra_info).toContain(
        "sandbox_overrides: struct<max_steps: int64, max_turns: int64>",
      );
      // Each row read back is the same task again.
      for (const [i, r] of back.rows.entries()) expect(parseTask(r)).toEqual(parseTask(rows[i]));
    }
    const train = readBack(join(dir, "pq", "train.parquet")).rows;
    const empty = train.find((r) => (r.extra_info as { instance_id: string }).instance_id.endsWith("-1"));
    // The seed's "Create hello.py" case has no files: an empty list, not 15 null keys.
    expect(empty).toBeDefined();
    expect((empty?.extra_info as { repo_content: unknown } | undefined)?.repo_content).toEqual([]);
    expect(parseTask(empty).repo_content).toEqual({});
  });

  it("swebench mode: nested task fields keep their shape; keys other rows had read back as null", async () => {
    const out = join(dir, "swe");
    await prepareBoth(SWEBENCH_ARGS, out);
    const back = readBack(join(out, "train.parquet"));
    const rows = await jsonlRows(join(out, "train.jsonl"));
    expect(back.rows).toEqual(rows.map((r, i) => withNulls(pathKeyedToLists(r), back.rows[i])));
    expect(back.schema.extra_info).toContain("FAIL_TO_PASS: list<element: string>");
    expect(back.schema.reward_model).toContain("ground_truth: struct<gold_patch: string>");
    for (const [i, r] of back.rows.entries()) {
      const again = parseTask(r);
      const first = parseTask(rows[i]);
      expect(again.instance_id).toBe(first.instance_id);
      expect(again.patch).toBe(first.patch);
      expect(again.test_patch).toBe(first.test_patch);
      expect(again.FAIL_TO_PASS).toEqual(first.FAIL_TO_PASS);
      expect(again.repo_files).toEqual(first.repo_files);
    }
  });
});

/** A task without its `{}`/undefined fields: parquet leaves out a field that is `{}` in every row (documented). */
function withoutEmpty(task: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(task).filter(
      ([, v]) => v !== undefined && !(typeof v === "object" && v !== null && Object.keys(v).length === 0),
    ),
  );
}

describe("the task loader reads the parquet files", () => {
  it("loadTasks(train.parquet) gives the same tasks as loadTasks(train.jsonl), both modes", async () => {
    const simple = join(dir, "load-simple");
    await prepareBoth(["--mode=simple", "--train_size=23", "--test_size=0"], simple);
    const fromParquet = await loadTasks(join(simple, "train.parquet"));
    expect(fromParquet).toHaveLength(23);
    expect(fromParquet).toEqual(await loadTasks(join(simple, "train.jsonl")));

    const swe = join(dir, "load-swe");
    await prepareBoth(SWEBENCH_ARGS, swe);
    const sweParquet = (await loadTasks(join(swe, "test.parquet"))).map(withoutEmpty);
    expect(sweParquet).toHaveLength(4);
    expect(sweParquet).toEqual((await loadTasks(join(swe, "test.jsonl"))).map(withoutEmpty));
  });
});
