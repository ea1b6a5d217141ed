/**
 * PatchExtractor (the seed's `utils/patch_extractor.py`): what did the agent change? Strategies, in order:
 * 1. a `.patch` file the agent wrote (SWE-agent writes `<output_dir>/<id>/<id>.patch`),
 * 2. `git add -A && git diff --cached <base_commit>` (includes new files and commits the agent made; staged
 *    in a scratch index, so the agent's own index is left as it was),
 * 3. plain `git diff` (a repository whose base commit is unknown).
 * The first that yields a non-empty patch wins; binary files are left out and a trailing newline is ensured.
 */
import { readFile } from "node:fs/promises";
import type { Runtime } from "../../runtime/runtime.js";
import { runShell, shQuote } from "../tasks/sandbox.js";
import { GIT_ENV } from "../tasks/setup.js";
import { cleanPatch } from "./clean.js";

export type PatchStrategy = "patch_file" | "git_diff_cached" | "git_diff";

export interface ExtractedPatch {
  patch: string;
  /** Which strategy produced it; null when the agent changed nothing. */
  strategy: PatchStrategy | null;
  binaryFiles: string[];
}

export interface ExtractPatchOptions {
  workdir: string;
  baseCommit: string;
  /** Reads the agent's patch file, if it has one; null when absent. */
  readPatchFile?: () => Promise<string | null>;
  /** Seconds for each git command (the seed uses 30). */
  timeout?: number;
}

const GIT_DIFF_FLAGS = "--no-color --no-ext-diff";

/** Reads a patch file inside the sandbox; null if it does not exist. */
export function sandboxPatchFile(runtime: Runtime, path: string): () => Promise<string | null> {
  return async () => {
    try {
      return (await runtime.readFile({ path })).content;
    } catch {
      return null;
    }
  };
}

/** Reads a patch file on this machine (an external agent's output); null if it does not exist. */
export function hostPatchFile(path: string): () => Promise<string | null> {
  return async () => {
    try {
      return await readFile(path, "utf8");
    } catch {
      return null;
    }
  };
}

export async function extractPatch(runtime: Runtime, opts: ExtractPatchOptions): Promise<ExtractedPatch> {
  const timeout = opts.timeout ?? 30;
  const attempts: Array<[PatchStrategy, () => Promise<string | null>]> = [
    ["patch_file", async () => (opts.readPatchFile ? opts.readPatchFile() : null)],
    [
      "git_diff_cached",
      async () => {
        const base = opts.baseCommit ? shQuote(opts.baseCommit) : "HEAD";
        // A scratch index: staging for the diff must not change what a later `git diff` (strategy 3) sees.
        const script = [
          'idx=$(mktemp -u); cp "$(git rev-parse --git-path index)" "$idx" 2>/dev/null',
          `GIT_INDEX_FILE="$idx" git add -A && GIT_INDEX_FILE="$idx" git diff --cached ${GIT_DIFF_FLAGS} ${base}`,
          'rc=$?; rm -f "$idx"; exit $rc',
        ].join("\n");
        const res = await runShell(runtime, script, {
          cwd: opts.workdir,
          timeout,
          env: GIT_ENV,
        });
        return res.exitCode === 0 ? res.output : null;
      },
    ],
    [
      "git_diff",
      async () => {
        const res = await runShell(runtime, `git diff ${GIT_DIFF_FLAGS}`, {
          cwd: opts.workdir,
          timeout,
          env: GIT_ENV,
        });
        return res.exitCode === 0 ? res.output : null;
      },
    ],
  ];
  for (const [strategy, attempt] of attempts) {
    let raw: string | null;
    try {
      raw = await attempt();
    } catch {
      raw = null; // a dead strategy is not fatal: the next one may still work
    }
    if (!raw?.trim()) continue;
    const cleaned = cleanPatch(raw);
    if (cleaned.patch) return { patch: cleaned.patch, strategy, binaryFiles: cleaned.binaryFiles };
    if (cleaned.binaryFiles.length) return { patch: "", strategy, binaryFiles: cleaned.binaryFiles };
  }
  return { patch: "", strategy: null, binaryFiles: [] };
}
