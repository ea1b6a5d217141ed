/**
 * Re-records examples/trajectories.jsonl: runs the built-in bash agent over the example tasks on the local
 * deployment with hand-written model replies (three correct fixes and, for examples__word-freq, a wrong one),
 * and keeps the proxy's JSONL of model calls. `npm run demo` replays it. Run: npx tsx examples/record-trajectories.ts
 */
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { validateAgentConfig } from "../src/rollout/agents/config.js";
import { BatchOptionsSchema } from "../src/rollout/batch/config.js";
import { runBatch } from "../src/rollout/batch/run-batch.js";
import { RewardConfig } from "../src/rollout/reward/reward.js";
import { loadTasks } from "../src/rollout/tasks/load.js";
import type { PolicyBackend, PolicyContext, PolicyResponse } from "../src/rollout/types.js";

const here = dirname(fileURLToPath(import.meta.url));

function reply(thought: string, command: string): PolicyResponse {
  return {
    content: `THOUGHT: ${thought}\n\n\`\`\`bash\n${command}\n\`\`\``,
    finish_reason: "stop",
    model: "scripted-example",
  };
}
const submit = reply(
  "The fix is in place and the tests pass; submitting.",
  "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
);

const SCRIPTS: Record<string, PolicyResponse[]> = {
  "examples__stats-median": [
    reply("Let me look at the median implementation.", "cat statkit/stats.py"),
    reply(
      "For an even count it returns the upper middle value; it must average the two middle values.",
      `python3 - <<'EOF'
p = "statkit/stats.py"
s = open(p).read()
s = s.replace("    return ordered[middle]\\n", "    if len(ordered) % 2:\\n        return ordered[middle]\\n    return (ordered[middle - 1] + ordered[middle]) / 2\\n")
open(p, "w").write(s)
EOF
python3 -c 'from statkit import median; print(median([4, 1, 3, 2]))'`,
    ),
    reply("2.5 as expected. Run the existing tests.", "python3 run_tests.py"),
    submit,
  ],
  "examples__slugify-dashes": [
    reply("Find slugify.", "grep -rn 'def slugify' . && cat textkit/slug.py"),
    reply(
      "Each non-alphanumeric character becomes its own dash. Collapse runs and strip the ends.",
      `sed -i 's|return re.sub(r"\\[^a-z0-9\\]", "-", lowered)|return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-")|' textkit/slug.py && git diff`,
    ),
    reply(
      "Check the example from the issue.",
      `python3 -c 'from textkit import slugify; print(slugify("Hello,  World!"))'`,
    ),
    submit,
  ],
  "examples__duration-seconds": [
    reply("Where are the units defined?", "grep -n '_UNITS' -r timekit"),
    reply(
      "Add the seconds unit.",
      `sed -i 's/_UNITS = {"h": 3600, "m": 60}/_UNITS = {"h": 3600, "m": 60, "s": 1}/' timekit/durations.py`,
    ),
    reply(
      "Verify.",
      `python3 -c 'from timekit import parse_duration as p; print(p("1m30s"), p("45s"))' && python3 run_tests.py`,
    ),
    submit,
  ],
  // The broken one: it lower-cases the words it reports instead of counting case-insensitively.
  "examples__word-freq": [
    reply("Look at top_words.", "cat wordkit/freq.py"),
    reply(
      "The output should be lower case; lower-case the reported words.",
      `sed -i 's|    return counts.most_common(n)|    return [(w.lower(), c) for w, c in counts.most_common(n)]|' wordkit/freq.py`,
    ),
    submit,
  ],
};

class ScriptedBySession implements PolicyBackend {
  async complete(_req: unknown, ctx: PolicyContext): Promise<PolicyResponse> {
    const r = SCRIPTS[ctx.sessionId]?.[ctx.step];
    if (!r) throw new Error(`no scripted reply for ${ctx.sessionId} step ${ctx.step}`);
    return r;
  }
}

const out = await mkdtemp(join(tmpdir(), "swerex-record-"));
try {
  const result = await runBatch({
    tasks: await loadTasks(join(here, "tasks.jsonl")),
    deployment: { type: "local" },
    policy: new ScriptedBySession(),
    agent: validateAgentConfig({}),
    reward: RewardConfig.parse({}),
    options: BatchOptionsSchema.parse({ output_dir: out, num_workers: 2, progress: "lines" }),
  });
  await copyFile(result.paths.model_calls, join(here, "trajectories.jsonl"));
  process.stdout.write(`wrote ${join(here, "trajectories.jsonl")}\n`);
} finally {
  await rm(out, { recursive: true, force: true });
}
