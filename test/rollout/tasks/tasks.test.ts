import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTasks, parseTasks, selectTasks } from "../../../src/rollout/tasks/load.js";
import {
  setupTaskRepo,
  type TaskCheckout,
  TaskSetupError,
  teardownTaskRepo,
} from "../../../src/rollout/tasks/setup.js";
import { parseTask, patchedFiles, TaskFormatError } from "../../../src/rollout/tasks/task.js";
import { HostRuntime } from "../e2e/host-runtime.js";

const runtime = new HostRuntime();
const made: TaskCheckout[] = [];
afterAll(async () => {
  for (const c of made) await teardownTaskRepo(runtime, c);
});

describe("task formats", () => {
  it("reads SWE-bench rows with JSON-encoded test lists", () => {
    const t = parseTask({
      instance_id: "django__django-11099",
      repo: "django/django",
      base_commit: "abc",
      problem_statement: "p",
      FAIL_TO_PASS: '["a", "b"]',
      PASS_TO_PASS: "[]",
      image: "swebench/sweb.eval.x86_64.django_1776_django-11099:latest",
    });
    expect(t.FAIL_TO_PASS).toEqual(["a", "b"]);
    expect(t.PASS_TO_PASS).toEqual([]);
    expect(t.image).toBe("swebench/sweb.eval.x86_64.django_1776_django-11099:latest");
  });

  it("reads the seed's training rows (prompt, reward_model, extra_info, agent_name)", () => {
    const t = parseTask({
      prompt: [{ role: "user", content: "fix add" }],
      data_source: "swe_agent_simple",
      reward_model: { style: "swe_agent", ground_truth: "diff --git a/c.py b/c.py\n" },
      extra_info: {
        index: 3,
        split: "train",
        repo_content: { "c.py": "x" },
        sandbox_overrides: { max_steps: 10, max_turns: 8 },
      },
      agent_name: "swe_agent",
    });
    expect(t).toMatchObject({
      instance_id: "swe_agent_simple-train-3",
      problem_statement: "fix add",
      patch: "diff --git a/c.py b/c.py\n",
      repo_content: { "c.py": "x" },
      agent_overrides: { max_steps: 10, max_turns: 8 },
    });
  });

  it("names the line and the field of a bad row, and rejects duplicate ids", () => {
    expect(() =>
      parseTasks('{"instance_id":"a","problem_statement":"p"}\n{"instance_id":"b"}\n', "/", "t.jsonl"),
    ).toThrow(/^t\.jsonl:2: problem_statement: /);
    expect(() =>
      parseTasks('{"instance_id":"a","problem_statement":"p","FAIL_TO_PASS":"oops"}', "/", "t.jsonl"),
    ).toThrow(/t\.jsonl:1: FAIL_TO_PASS/);
    expect(() => parseTasks("{nope", "/", "t.jsonl")).toThrow(TaskFormatError);
    const dup = '{"instance_id":"a","problem_statement":"p"}\n{"instance_id":"a","problem_statement":"p"}';
    expect(() => parseTasks(dup, "/", "t.jsonl")).toThrow('t.jsonl:2: duplicate instance_id "a"');
  });

  it("selects by regex filter and slice", () => {
    const ts = parseTasks(
      ["a1", "a2", "b1", "a3"]
        .map((id) => JSON.stringify({ instance_id: id, problem_statement: "p" }))
        .join("\n"),
      "/",
    );
    expect(selectTasks(ts, { filter: "^a", slice: "1:" }).map((t) => t.instance_id)).toEqual(["a2", "a3"]);
    expect(selectTasks(ts, { slice: ":2" }).map((t) => t.instance_id)).toEqual(["a1", "a2"]);
  });

  it("lists the files a patch touches", () => {
    expect(patchedFiles("diff --git a/x.py b/x.py\n+1\ndiff --git a/t/y.py b/t/y.py\n")).toEqual([
      "x.py",
      "t/y.py",
    ]);
  });
});

describe("example repositories", () => {
  it("commit to the base_commit their task names, every time (fixed author and date)", async () => {
    const tasks = await loadTasks(resolve("examples/tasks.jsonl"));
    for (const task of tasks) {
      const first = await setupTaskRepo(runtime, task);
      const second = await setupTaskRepo(runtime, task);
      made.push(first, second);
      expect(first.baseCommit).toBe(task.base_commit);
      expect(second.baseCommit).toBe(task.base_commit);
      expect(first.workdir).not.toBe(second.workdir);
      expect(first.workdir).toMatch(/^\/tmp\/swerex-task-examples__/);
    }
  });

  it("a changed repository is refused with a message naming both commits", async () => {
    const [task] = await loadTasks(resolve("examples/tasks.jsonl"));
    const id = `refused-${process.pid}-${Date.now()}`;
    const wrong = { ...task, instance_id: id, base_commit: "f".repeat(40) } as NonNullable<typeof task>;
    await expect(setupTaskRepo(runtime, wrong)).rejects.toThrow(TaskSetupError);
    await expect(setupTaskRepo(runtime, wrong)).rejects.toThrow(/but the task says base_commit f{40}/);
    // The failed setup removed its scratch directory.
    const left = await runtime.execute({
      command: ["bash", "-c", `ls -d /tmp/swerex-task-${id}.* 2>/dev/null | wc -l`],
    });
    expect(left.stdout.trim()).toBe("0");
  });

  it("get the one shared pytest-style runner through repo_files, committed in the base commit", async () => {
    const runner = await readFile(resolve("examples/tools/run_tests.py"), "utf8");
    for (const t of await loadTasks(resolve("examples/tasks.jsonl"))) {
      expect(t.repo_files).toEqual({ "run_tests.py": resolve("examples/tools/run_tests.py") });
      expect(existsSync(`${t.repo_dir}/run_tests.py`), t.instance_id).toBe(false);
      const c = await setupTaskRepo(runtime, t);
      made.push(c);
      const committed = await runtime.execute({
        command: ["git", "show", "HEAD:run_tests.py"],
        cwd: c.workdir,
        env: { PATH: process.env.PATH ?? "", GIT_CONFIG_GLOBAL: "/dev/null" },
      });
      expect(committed.stdout, t.instance_id).toBe(runner);
    }
  });

  it("refuses repo_files that leave the repository or have no uploaded repository", async () => {
    const [task] = await loadTasks(resolve("examples/tasks.jsonl"));
    const base = { ...task, instance_id: `bad-files-${process.pid}` } as NonNullable<typeof task>;
    await expect(
      setupTaskRepo(runtime, {
        ...base,
        repo_files: { "../escape.py": resolve("examples/tools/run_tests.py") },
      }),
    ).rejects.toThrow('repo_files path must stay inside the repository: "../escape.py"');
    const { repo_dir: _dir, ...imageTask } = base;
    await expect(
      setupTaskRepo(runtime, {
        ...imageTask,
        repo_files: { "x.py": resolve("examples/tools/run_tests.py") },
      }),
    ).rejects.toThrow("repo_files needs repo_dir or repo_content");
  });
});
