/**
 * The task a rollout works on: a SWE-bench instance (`SWE-bench/SWE-bench` `SWEbenchInstance`) plus the few
 * fields swerex needs to set the repository up when it is not baked into the sandbox image. Rows in the seed's
 * verl training format (`prompt`, `reward_model`, `extra_info`, `agent_name`) are turned into the same shape.
 */
import { z } from "zod";

/** SWE-bench stores test lists as JSON-encoded strings; accept both that and a plain array. */
const TestList = z.preprocess((value) => {
  if (typeof value !== "string") return value;
  if (value.trim() === "") return [];
  try {
    return JSON.parse(value);
  } catch {
    return value; // left as a string so the array check below names the field
  }
}, z.array(z.string()));

/** Per-task limits that win over the run's agent config (the seed's `sandbox_overrides`). */
export const AgentOverrides = z.object({
  max_turns: z.number().int().positive().optional(),
  /** 0 = no limit. */
  max_steps: z.number().int().nonnegative().optional(),
  execution_timeout: z.number().positive().optional(),
  swe_agent_timeout: z.number().positive().optional(),
});
export type AgentOverrides = z.infer<typeof AgentOverrides>;

/**
 * A `{path: value}` map, also accepted as the `[{path, <valueKey>}]` list that parquet training data stores
 * (see data/parquet.ts), so a row read back with pyarrow or `datasets` is a task again.
 */
function pathMap(valueKey: string) {
  return z.preprocess(
    (v) => {
      if (!Array.isArray(v)) return v;
      const entries = v.map((e) => {
        const item = (e ?? {}) as Record<string, unknown>;
        return [item.path, item[valueKey]];
      });
      return Object.fromEntries(entries);
    },
    z.record(z.string(), z.string()),
  );
}

export const SweTask = z.looseObject({
  instance_id: z.string().min(1),
  repo: z.string().default(""),
  base_commit: z.string().default(""),
  /** The gold patch (non-test files). */
  patch: z.string().default(""),
  test_patch: z.string().default(""),
  problem_statement: z.string(),
  hints_text: z.string().default(""),
  FAIL_TO_PASS: TestList.default([]),
  PASS_TO_PASS: TestList.default([]),
  version: z.string().optional(),
  created_at: z.string().optional(),
  environment_setup_commit: z.string().optional(),
  /** Sandbox image for container deployments (SWE-bench v5 precomputes it per instance). */
  image: z.string().optional(),
  /** A ready-made evaluation script (SWE-bench v5); when absent one is built from `test_cmd`. */
  eval_script: z.string().optional(),
  /** Test command; the test files of `test_patch` are appended (SWE-bench "test directives"). */
  test_cmd: z.string().optional(),
  /** Where the repository is in the sandbox when the image already holds it (SWE-bench images: /testbed). */
  workdir: z.string().optional(),
  /** A directory on this machine uploaded into the sandbox as the repository (relative to the tasks file). */
  repo_dir: z.string().optional(),
  /** Files written into an empty repository (the seed's simple tasks: `extra_info.repo_content`). */
  repo_content: pathMap("content").optional(),
  /**
   * Files on this machine added to an uploaded repository before its base commit, `{path in repo: file}`
   * (relative to the tasks file): one shared copy of a helper, such as examples/tools/run_tests.py, serves many tasks.
   */
  repo_files: pathMap("source").optional(),
  agent_overrides: AgentOverrides.optional(),
});
export type SweTask = z.infer<typeof SweTask>;
export type SweTaskInput = z.input<typeof SweTask>;

/** A row of the seed's verl training data (`prepare_data.py` output). */
export const TrainingRow = z.looseObject({
  prompt: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  reward_model: z.looseObject({ style: z.string().optional(), ground_truth: z.unknown().optional() }),
  extra_info: z.record(z.string(), z.unknown()),
  agent_name: z.string().optional(),
  data_source: z.string().optional(),
});
export type TrainingRow = z.infer<typeof TrainingRow>;

export class TaskFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskFormatError";
  }
}

/** "FAIL_TO_PASS: expected array, received string; instance_id: required" */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Maps a training-format row onto the task fields (the reverse of `toTrainingRow`). */
function fromTrainingRow(row: TrainingRow): Record<string, unknown> {
  const info = row.extra_info;
  const rm = row.reward_model as Record<string, unknown>;
  const lastUser = [...row.prompt].reverse().find((m) => m.role === "user")?.content;
  const groundTruth = rm.ground_truth;
  const gold =
    str(info.expected_patch) ??
    str(rm.gold_patch) ??
    str(groundTruth) ??
    str((groundTruth as Record<string, unknown> | undefined)?.gold_patch) ??
    "";
  const overrides = info.sandbox_overrides as Record<string, unknown> | undefined | null;
  const fallbackId = `${row.data_source ?? "task"}-${str(info.split) ?? "train"}-${String(info.index ?? 0)}`;
  // A row read back from parquet has null for keys that other rows had and this one did not.
  const present = Object.fromEntries(Object.entries(info).filter(([, v]) => v !== null));
  return {
    ...present,
    instance_id: str(info.instance_id) ?? str(rm.instance_id) ?? fallbackId,
    problem_statement: str(info.problem_statement) ?? lastUser ?? "",
    patch: gold,
    test_patch: str(rm.test_patch) ?? str(info.test_patch) ?? "",
    agent_overrides: overrides
      ? Object.fromEntries(
          Object.entries(overrides).filter(
            ([k, v]) =>
              v !== null && ["max_turns", "max_steps", "execution_timeout", "swe_agent_timeout"].includes(k),
          ),
        )
      : undefined,
  };
}

/** Parses one task row in either format; throws `TaskFormatError` naming the bad fields. */
export function parseTask(raw: unknown): SweTask {
  const training = TrainingRow.safeParse(raw);
  const candidate =
    training.success && !(raw as Record<string, unknown>).instance_id ? fromTrainingRow(training.data) : raw;
  const parsed = SweTask.safeParse(candidate);
  if (!parsed.success) throw new TaskFormatError(formatZodIssues(parsed.error));
  return parsed.data;
}

/** Test file paths a patch touches, in order (SWE-bench's `get_test_directives` without repo specifics). */
export function patchedFiles(patch: string): string[] {
  const files: string[] = [];
  for (const match of patch.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
    const file = match[2] ?? match[1];
    if (file && !files.includes(file)) files.push(file);
  }
  return files;
}
