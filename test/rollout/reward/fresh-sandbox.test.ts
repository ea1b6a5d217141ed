/**
 * `reward.fresh_sandbox`: the patch is graded in a second sandbox on a clean checkout, so an agent whose fix
 * lives partly in a git-ignored file (not in its patch) is resolved in its own sandbox but not in a fresh one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardConfig } from "../../../src/rollout/reward/reward.js";
import { bash, exampleTask, RolloutHarness, ScriptedPolicy } from "../e2e/harness.js";

const h = new RolloutHarness();
beforeAll(async () => {
  await h.start();
});
afterAll(async () => {
  await h.close();
});

// The median fix goes into statkit/_impl.py, which .git/info/exclude hides from `git add -A`: the patch only
// has the import in stats.py. The reward's reset (`git reset --hard && git clean -fd`) keeps ignored files.
const TAMPER = `echo statkit/_impl.py >> .git/info/exclude
cat > statkit/_impl.py <<'EOF'
def middle(ordered):
    m = len(ordered) // 2
    return ordered[m] if len(ordered) % 2 else (ordered[m - 1] + ordered[m]) / 2
EOF
sed -i 's/^    return ordered\\[middle\\]$/    from ._impl import middle as _middle\\n    return _middle(ordered)/' statkit/stats.py`;
const SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";

async function rollout(freshSandbox: boolean) {
  const task = await exampleTask("examples__stats-median");
  const before = h.deployments.length;
  const r = await h.run(
    task,
    new ScriptedPolicy([bash(TAMPER), bash(SUBMIT)]),
    {},
    { reward: RewardConfig.parse({ eval_timeout: 120, fresh_sandbox: freshSandbox }) },
  );
  return { r, deployments: h.deployments.length - before };
}

describe("reward.fresh_sandbox", () => {
  it("defaults to false", () => {
    expect(RewardConfig.parse({}).fresh_sandbox).toBe(false);
  });

  it("in the agent's own sandbox, a fix hidden in an ignored file counts (the documented trade-off)", async () => {
    const { r, deployments } = await rollout(false);
    expect(r.error).toBeNull();
    expect(r.patch).not.toContain("def middle");
    expect(r.patch).toContain("+    from ._impl import middle as _middle");
    expect(r).toMatchObject({ status: "completed", score: 1, resolved: true });
    expect(deployments).toBe(1);
  });

  it("in a fresh sandbox the same patch is graded on a clean checkout and fails; both sandboxes stop", async () => {
    const { r, deployments } = await rollout(true);
    expect(r.patch).toContain("+    from ._impl import middle as _middle");
    expect(r).toMatchObject({ status: "completed", exit_status: "submitted", score: 0, resolved: false });
    expect(r.reward).toMatchObject({
      type: "swebench",
      status: "unresolved",
      applied_with: "git apply --verbose",
      value: 0,
    });
    expect(r.reward?.type === "swebench" && r.reward.log_tail).toContain("No module named 'statkit._impl'");
    expect(deployments).toBe(2);
    expect(await h.allStopped()).toBe(true);
  });

  it("the gold patch still resolves in a fresh sandbox", async () => {
    const task = await exampleTask("examples__stats-median");
    const gold = `cat > ../gold.patch <<'EOF'\n${task.patch}EOF\ngit apply ../gold.patch`;
    const r = await h.run(
      task,
      new ScriptedPolicy([bash(gold), bash(SUBMIT)]),
      {},
      { reward: RewardConfig.parse({ eval_timeout: 120, fresh_sandbox: true }) },
    );
    expect(r.error).toBeNull();
    expect(r.patch).toBe(task.patch);
    expect(r).toMatchObject({ status: "completed", score: 1, resolved: true });
  });
});
