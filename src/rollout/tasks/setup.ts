/**
 * Puts a task's repository into the sandbox and finds its base commit. Three sources: a directory on this
 * machine (`repo_dir`, uploaded), files given inline (`repo_content`, the seed's simple tasks), or a repository
 * already in the image (`workdir`, SWE-bench's /testbed). Uploaded repositories are committed with a fixed
 * author, committer and date, so the same files always give the same `base_commit`, on any machine.
 */
import type { Runtime } from "../../runtime/runtime.js";
import { runShellChecked, shQuote } from "./sandbox.js";
import type { SweTask } from "./task.js";

/** Git without the user's or the system's config (hooks, autocrlf, signing), and with a fixed identity. */
export const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "swerex",
  GIT_AUTHOR_EMAIL: "swerex@localhost",
  GIT_COMMITTER_NAME: "swerex",
  GIT_COMMITTER_EMAIL: "swerex@localhost",
  GIT_AUTHOR_DATE: "2000-01-01T00:00:00+0000",
  GIT_COMMITTER_DATE: "2000-01-01T00:00:00+0000",
  PYTHONDONTWRITEBYTECODE: "1",
};

export const DEFAULT_IMAGE_WORKDIR = "/testbed";

export interface TaskCheckout {
  /** The repository in the sandbox. */
  workdir: string;
  /** What setup created and teardown removes (nothing for a repository that came with the image). */
  scratchDir: string | null;
  baseCommit: string;
}

export class TaskSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskSetupError";
  }
}

const SETUP_TIMEOUT_S = 300;

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60);
}

async function makeScratchDir(runtime: Runtime, task: SweTask): Promise<string> {
  const out = await runShellChecked(
    runtime,
    `mktemp -d ${shQuote(`/tmp/swerex-task-${safeName(task.instance_id)}.XXXXXX`)}`,
    {
      timeout: 30,
      what: "creating the task directory",
    },
  );
  const dir = out.trim().split("\n").pop() ?? "";
  if (!dir.startsWith("/tmp/"))
    throw new TaskSetupError(`mktemp gave an unexpected path: ${JSON.stringify(out)}`);
  return dir;
}

/** Commits whatever is in `workdir` as the single base commit and returns its id. */
async function commitBase(runtime: Runtime, workdir: string): Promise<string> {
  const script = [
    "set -e",
    // Byte-code caches from running the tests on this machine must not become part of the base commit.
    "find . -name __pycache__ -type d -prune -exec rm -rf {} +",
    "git init -q",
    "git add -A",
    "git commit -q --allow-empty -m 'base commit'",
    "git rev-parse HEAD",
  ].join("\n");
  const out = await runShellChecked(runtime, script, {
    cwd: workdir,
    timeout: SETUP_TIMEOUT_S,
    env: GIT_ENV,
    what: "committing the task repository",
  });
  return out.trim().split("\n").pop() ?? "";
}

function assertInsideRepo(field: string, path: string): void {
  if (path === "" || path.startsWith("/") || path.split("/").includes("..")) {
    throw new TaskSetupError(`${field} path must stay inside the repository: ${JSON.stringify(path)}`);
  }
}

/** Uploads `repo_files` (host files, already resolved against the tasks file) into the repository. */
async function addRepoFiles(runtime: Runtime, workdir: string, files: Record<string, string>): Promise<void> {
  for (const [path, source] of Object.entries(files)) {
    assertInsideRepo("repo_files", path);
    await runtime.upload({ source_path: source, target_path: `${workdir}/${path}` });
  }
}

async function writeRepoContent(
  runtime: Runtime,
  workdir: string,
  files: Record<string, string>,
): Promise<void> {
  await runShellChecked(runtime, `mkdir -p ${shQuote(workdir)}`, {
    timeout: 30,
    what: "creating the repository",
  });
  for (const [path, content] of Object.entries(files)) {
    assertInsideRepo("repo_content", path);
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir)
      await runShellChecked(runtime, `mkdir -p ${shQuote(`${workdir}/${dir}`)}`, {
        timeout: 30,
        what: "mkdir",
      });
    await runtime.writeFile({ path: `${workdir}/${path}`, content });
  }
}

/** Sets the task's repository up in the sandbox at its base commit. */
export async function setupTaskRepo(runtime: Runtime, task: SweTask): Promise<TaskCheckout> {
  if (task.repo_dir || task.repo_content) {
    const scratchDir = await makeScratchDir(runtime, task);
    const workdir = `${scratchDir}/repo`;
    try {
      if (task.repo_dir) {
        await runtime.upload({ source_path: task.repo_dir, target_path: workdir });
      } else {
        await writeRepoContent(runtime, workdir, task.repo_content ?? {});
      }
      if (task.repo_files) await addRepoFiles(runtime, workdir, task.repo_files);
      const baseCommit = await commitBase(runtime, workdir);
      if (task.base_commit && task.base_commit !== baseCommit) {
        throw new TaskSetupError(
          `${task.instance_id}: the uploaded repository commits as ${baseCommit}, but the task says base_commit ${task.base_commit} (were files under ${task.repo_dir ?? "repo_content"} changed?)`,
        );
      }
      return { workdir, scratchDir, baseCommit };
    } catch (err) {
      // The caller never learns the scratch dir of a failed setup, so it is removed here.
      await teardownTaskRepo(runtime, { workdir, scratchDir, baseCommit: "" });
      throw err;
    }
  }
  if (task.repo_files) {
    throw new TaskSetupError(
      `${task.instance_id}: repo_files needs repo_dir or repo_content (a repository in the image is used as is)`,
    );
  }
  const workdir = task.workdir ?? DEFAULT_IMAGE_WORKDIR;
  const checkout = task.base_commit
    ? `git checkout -q --force ${shQuote(task.base_commit)} && git clean -fdq\n`
    : "";
  const out = await runShellChecked(runtime, `set -e\n${checkout}git rev-parse HEAD`, {
    cwd: workdir,
    timeout: SETUP_TIMEOUT_S,
    env: { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
    what: `checking out ${task.base_commit || "HEAD"} in ${workdir}`,
  });
  return { workdir, scratchDir: null, baseCommit: out.trim().split("\n").pop() ?? "" };
}

/** Removes what setup created; never throws (the sandbox may already be gone). */
export async function teardownTaskRepo(runtime: Runtime, checkout: TaskCheckout): Promise<void> {
  if (!checkout.scratchDir) return;
  try {
    await runShellChecked(runtime, `rm -rf ${shQuote(checkout.scratchDir)}`, {
      timeout: 60,
      what: "cleanup",
    });
  } catch {
    // The deployment's stop() frees the sandbox anyway; a local scratch dir under /tmp is all that may remain.
  }
}
