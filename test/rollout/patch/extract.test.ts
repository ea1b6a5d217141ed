import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanPatch } from "../../../src/rollout/patch/clean.js";
import { extractPatch, hostPatchFile, sandboxPatchFile } from "../../../src/rollout/patch/extract.js";
import { runShellChecked } from "../../../src/rollout/tasks/sandbox.js";
import { setupTaskRepo, type TaskCheckout, teardownTaskRepo } from "../../../src/rollout/tasks/setup.js";
import { parseTask } from "../../../src/rollout/tasks/task.js";
import { HostRuntime } from "../e2e/host-runtime.js";

const runtime = new HostRuntime();
const task = parseTask({
  instance_id: "extract-test",
  problem_statement: "x",
  repo_content: { "a.py": "print('a')\n", "pkg/b.py": "B = 1\n" },
});
let c: TaskCheckout;

beforeAll(async () => {
  c = await setupTaskRepo(runtime, task);
});
afterAll(async () => {
  await teardownTaskRepo(runtime, c);
});

async function sh(script: string) {
  await runShellChecked(runtime, script, { cwd: c.workdir, timeout: 30, what: "test edit" });
}

describe("extractPatch", () => {
  it("finds nothing in an untouched repository", async () => {
    expect(await extractPatch(runtime, { workdir: c.workdir, baseCommit: c.baseCommit })).toEqual({
      patch: "",
      strategy: null,
      binaryFiles: [],
    });
  });

  it("git add -A && git diff --cached <base>: new files and agent commits included, binary files left out", async () => {
    await sh(
      "printf 'print(\"A\")\\n' > a.py && printf 'NEW = 2\\n' > pkg/new.py && printf '\\x00\\x01\\x02' > blob.bin && git -c user.name=a -c user.email=a@b commit -qam 'agent commit'",
    );
    const out = await extractPatch(runtime, { workdir: c.workdir, baseCommit: c.baseCommit });
    expect(out.strategy).toBe("git_diff_cached");
    expect(out.binaryFiles).toEqual(["blob.bin"]);
    expect(out.patch).toContain("diff --git a/a.py b/a.py");
    expect(out.patch).toContain("+++ b/pkg/new.py");
    expect(out.patch).not.toContain("blob.bin");
    expect(out.patch.endsWith("\n")).toBe(true);
    expect(out.patch.endsWith("\n\n")).toBe(false);
  });

  it("an agent-written .patch file wins over git, and gets its trailing newline", async () => {
    const file = `${c.scratchDir}/agent.patch`;
    await runtime.writeFile({
      path: file,
      content: "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+2",
    });
    const out = await extractPatch(runtime, {
      workdir: c.workdir,
      baseCommit: c.baseCommit,
      readPatchFile: sandboxPatchFile(runtime, file),
    });
    expect(out).toEqual({
      patch: "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+2\n",
      strategy: "patch_file",
      binaryFiles: [],
    });
    const missing = await extractPatch(runtime, {
      workdir: c.workdir,
      baseCommit: c.baseCommit,
      readPatchFile: hostPatchFile(`${c.scratchDir}/absent.patch`),
    });
    expect(missing.strategy).toBe("git_diff_cached");
  });

  it("falls back to plain git diff when the base commit is unknown", async () => {
    await sh("git reset -q --hard && printf 'B = 3\\n' > pkg/b.py");
    const out = await extractPatch(runtime, { workdir: c.workdir, baseCommit: "0".repeat(40) });
    expect(out.strategy).toBe("git_diff");
    expect(out.patch).toContain("+B = 3");
  });
});

describe("cleanPatch", () => {
  it("drops binary sections and normalises the ending", () => {
    const raw =
      "diff --git a/t.txt b/t.txt\n+x\ndiff --git a/i.png b/i.png\nBinary files a/i.png and b/i.png differ\n\n\n";
    expect(cleanPatch(raw)).toEqual({ patch: "diff --git a/t.txt b/t.txt\n+x\n", binaryFiles: ["i.png"] });
    expect(cleanPatch("diff --git a/i b/i\nGIT binary patch\nliteral 3\n")).toEqual({
      patch: "",
      binaryFiles: ["i"],
    });
  });
});
