/**
 * Every example task: the gold patch resolves it (reward 1), a wrong fix and a regression do not (reward 0),
 * graded by running the example's tests in a sandbox with only python3 (no pytest).
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractPatch } from "../../../src/rollout/patch/extract.js";
import { swebenchReward } from "../../../src/rollout/reward/swebench.js";
import { loadTasks } from "../../../src/rollout/tasks/load.js";
import { runShellChecked } from "../../../src/rollout/tasks/sandbox.js";
import { setupTaskRepo, type TaskCheckout, teardownTaskRepo } from "../../../src/rollout/tasks/setup.js";
import type { SweTask } from "../../../src/rollout/tasks/task.js";
import { HostRuntime } from "../e2e/host-runtime.js";

/** A plausible wrong fix and a change that breaks a PASS_TO_PASS test, per example. */
const WRONG: Record<string, { wrongFix: string; regression: string }> = {
  "examples__stats-median": {
    wrongFix: `sed -i 's/    return ordered\\[middle\\]/    return ordered[middle - 1]/' statkit/stats.py`,
    regression: `sed -i 's|return sum(values) / len(values)|return sum(values) // len(values)|' statkit/stats.py`,
  },
  "examples__slugify-dashes": {
    wrongFix: `sed -i 's|\\[^a-z0-9\\]"|[^a-z0-9]+"|' textkit/slug.py`,
    regression: `sed -i 's|lowered = title.strip().lower()|lowered = title.strip()|' textkit/slug.py`,
  },
  "examples__word-freq": {
    wrongFix: `sed -i 's|    return counts.most_common(n)|    return [(w.lower(), c) for w, c in counts.most_common(n)]|' wordkit/freq.py`,
    regression: `sed -i 's|    return counts.most_common(n)|    return counts.most_common(n)[:1]|' wordkit/freq.py`,
  },
  "examples__duration-seconds": {
    wrongFix: `sed -i 's|"m": 60}|"m": 60, "s": 60}|' timekit/durations.py`,
    regression: `sed -i 's|"h": 3600|"h": 360|' timekit/durations.py`,
  },
};

const runtime = new HostRuntime();
let tasks: SweTask[] = [];
const checkouts: TaskCheckout[] = [];

beforeAll(async () => {
  tasks = await loadTasks(resolve("examples/tasks.jsonl"));
});
afterAll(async () => {
  for (const c of checkouts) await teardownTaskRepo(runtime, c);
});

async function checkout(task: SweTask): Promise<TaskCheckout> {
  const c = await setupTaskRepo(runtime, task);
  checkouts.push(c);
  return c;
}

async function patchFrom(task: SweTask, c: TaskCheckout, script: string): Promise<string> {
  await runShellChecked(runtime, script, { cwd: c.workdir, timeout: 30, what: "editing" });
  const { patch } = await extractPatch(runtime, { workdir: c.workdir, baseCommit: c.baseCommit });
  expect(patch, `${task.instance_id}: the edit must change something`).not.toBe("");
  return patch;
}

describe("example tasks", () => {
  it("has at least three example tasks, each with a wrong-patch case", () => {
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    for (const t of tasks) expect(WRONG[t.instance_id], t.instance_id).toBeDefined();
  });

  it("gold patch resolves every example (reward 1, pass_rate 1)", async () => {
    for (const task of tasks) {
      const c = await checkout(task);
      const r = await swebenchReward(runtime, task, task.patch, {
        workdir: c.workdir,
        baseCommit: c.baseCommit,
        evalTimeout: 120,
      });
      expect(r.status, `${task.instance_id}: ${r.log_tail}`).toBe("resolved");
      expect(r.value).toBe(1);
      expect(r.pass_rate).toBe(1);
      expect(r.applied_with).toBe("git apply --verbose");
      expect(r.tests?.FAIL_TO_PASS.success).toEqual(task.FAIL_TO_PASS);
      expect(r.tests?.PASS_TO_PASS.success).toEqual(task.PASS_TO_PASS);
    }
  });

  it("a wrong fix gets reward 0 on every example", async () => {
    for (const task of tasks) {
      const c = await checkout(task);
      const patch = await patchFrom(task, c, WRONG[task.instance_id]?.wrongFix ?? "false");
      const r = await swebenchReward(runtime, task, patch, {
        workdir: c.workdir,
        baseCommit: c.baseCommit,
        evalTimeout: 120,
      });
      expect(r.status, `${task.instance_id}: ${r.log_tail}`).toBe("unresolved");
      expect(r.value).toBe(0);
      expect(r.resolved).toBe(false);
      expect(r.tests?.FAIL_TO_PASS.failure.length).toBeGreaterThan(0);
    }
  });

  it("gold fix plus a PASS_TO_PASS regression gets reward 0 and pass_rate 0", async () => {
    for (const task of tasks) {
      const c = await checkout(task);
      await runtime.writeFile({ path: `${c.scratchDir}/gold.patch`, content: task.patch });
      const patch = await patchFrom(
        task,
        c,
        `git apply ../gold.patch && ${WRONG[task.instance_id]?.regression}`,
      );
      const r = await swebenchReward(runtime, task, patch, {
        workdir: c.workdir,
        baseCommit: c.baseCommit,
        evalTimeout: 120,
      });
      expect(r.status, `${task.instance_id}: ${r.log_tail}`).toBe("unresolved");
      expect(r.value).toBe(0);
      expect(r.pass_rate).toBe(0);
      expect(r.tests?.PASS_TO_PASS.failure.length).toBeGreaterThan(0);
    }
  });

  it("an empty patch and a patch that does not apply get reward 0 without running tests", async () => {
    const task = tasks[0] as SweTask;
    const c = await checkout(task);
    const empty = await swebenchReward(runtime, task, "", {
      workdir: c.workdir,
      baseCommit: c.baseCommit,
      evalTimeout: 60,
    });
    expect(empty).toMatchObject({ status: "empty_patch", value: 0 });
    const bogus = "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n";
    const bad = await swebenchReward(runtime, task, bogus, {
      workdir: c.workdir,
      baseCommit: c.baseCommit,
      evalTimeout: 60,
    });
    expect(bad).toMatchObject({ status: "patch_apply_failed", value: 0 });
  });
});
