/**
 * `swerex prepare-data --mode simple|swebench [--format jsonl|parquet]`: writes train and test files in the
 * seed's verl training format: JSONL (default; `run-batch --instances.path` reads it directly) or parquet (what
 * the seed's recipe writes and verl reads), whose schema keeps every nested field's shape (data/parquet.ts).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, loadConfig, zodIssues } from "../../config/index.js";
import { writeParquetRows } from "../../rollout/data/parquet.js";
import { simpleTrainingRows, swebenchTrainingRow, type TrainingRowOut } from "../../rollout/data/prepare.js";
import { loadTasks } from "../../rollout/tasks/load.js";
import { TaskFormatError } from "../../rollout/tasks/task.js";

export const description =
  "write verl training data (train.jsonl, test.jsonl): the seed's simple tasks or SWE-bench rows";

const Options = z
  .strictObject({
    mode: z.enum(["simple", "swebench"]).default("simple"),
    format: z.enum(["jsonl", "parquet"]).default("jsonl"),
    train_size: z.number().int().nonnegative().default(100),
    test_size: z.number().int().nonnegative().default(10),
    swebench_train: z.string().min(1).optional(),
    swebench_test: z.string().min(1).optional(),
    output_dir: z.string().min(1).default("data/swe_agent"),
    agent_name: z.coerce.string().min(1).default("swe_agent"),
  })
  .superRefine((o, ctx) => {
    if (o.mode !== "swebench") return;
    for (const key of ["swebench_train", "swebench_test"] as const) {
      if (!o[key]) ctx.addIssue({ code: "custom", path: [key], message: "required with --mode swebench" });
    }
  });

const USAGE = `Usage: swerex prepare-data [--mode simple|swebench] [flags]

  --mode simple            the seed's simple tasks (inline repositories, expected patches)     (default)
  --train_size 100         rows in train.jsonl (simple mode cycles through the train pool)
  --test_size 10           rows in test.jsonl (a disjoint pool)
  --mode swebench --swebench_train FILE --swebench_test FILE   SWE-bench JSONL -> training rows
  --format jsonl|parquet   train.jsonl/test.jsonl (default) or train.parquet/test.parquet
  --output_dir data/swe_agent   --agent_name swe_agent

Rows: {prompt, data_source, ability, reward_model, extra_info, agent_name}; see docs/rollout.md.
`;

export interface PrepareDataContext {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

function jsonl(rows: TrainingRowOut[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
}

export async function run(argv: string[], ctx: PrepareDataContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  try {
    const config = loadConfig({ argv, env: ctx.env, accept: Object.keys(Options.shape) });
    if (config.values.help === true) {
      stdout.write(USAGE);
      return 0;
    }
    const { help: _h, version: _v, ...rest } = config.values;
    const parsed = Options.safeParse(rest);
    if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, { input: rest, where: config.where }));
    const o = parsed.data;
    let train: TrainingRowOut[];
    let test: TrainingRowOut[];
    if (o.mode === "simple") {
      train = simpleTrainingRows(o.train_size, "train", o.agent_name);
      test = simpleTrainingRows(o.test_size, "test", o.agent_name);
    } else {
      train = (await loadTasks(o.swebench_train ?? "")).map((t, i) =>
        swebenchTrainingRow(t, i, "train", o.agent_name),
      );
      test = (await loadTasks(o.swebench_test ?? "")).map((t, i) =>
        swebenchTrainingRow(t, i, "test", o.agent_name),
      );
    }
    await mkdir(o.output_dir, { recursive: true });
    const trainPath = join(o.output_dir, `train.${o.format}`);
    const testPath = join(o.output_dir, `test.${o.format}`);
    for (const [path, rows] of [
      [trainPath, train],
      [testPath, test],
    ] as const) {
      if (o.format === "parquet") writeParquetRows(path, rows as unknown as Array<Record<string, unknown>>);
      else await writeFile(path, jsonl(rows));
    }
    stdout.write(`train: ${train.length} rows -> ${trainPath}\ntest:  ${test.length} rows -> ${testPath}\n`);
    return 0;
  } catch (err) {
    const known =
      err instanceof ConfigError ||
      err instanceof TaskFormatError ||
      (err as NodeJS.ErrnoException).code === "ENOENT";
    if (!known) throw err;
    stderr.write(
      `swerex prepare-data: ${(err as Error).message.replaceAll("\n", "\nswerex prepare-data: ")}\n`,
    );
    return 2;
  }
}
