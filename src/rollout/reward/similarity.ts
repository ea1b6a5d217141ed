/**
 * The seed's patch-similarity reward (verl-recipe `swe_agent` reward): no tests, just how close the agent's
 * patch is to the expected one. 1.0 for the same patch up to blank lines and `index` lines; otherwise a shaped
 * score from the files both patches touch and the changed lines they share, between 0.1 (some patch, wrong
 * files) and 0.85; 0 for no patch.
 */
import { patchedFiles } from "../tasks/task.js";

export interface SimilarityReward {
  type: "similarity";
  value: number;
  exact: boolean;
  file_overlap: number;
  line_overlap: number;
}

export function normalizePatch(patch: string): string {
  return patch
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !l.startsWith("index "))
    .join("\n");
}

/** The `+`/`-` lines of a patch, without the `+++`/`---` file headers, whitespace-trimmed. */
function changedLines(patch: string): Set<string> {
  const out = new Set<string>();
  for (const line of patch.split("\n")) {
    if (line.startsWith("+++") || line.startsWith("---")) continue;
    if (line.startsWith("+") || line.startsWith("-")) out.add(`${line[0]}${line.slice(1).trim()}`);
  }
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  return both / (a.size + b.size - both);
}

export function patchSimilarity(generated: string, expected: string): SimilarityReward {
  const none = { type: "similarity" as const, exact: false, file_overlap: 0, line_overlap: 0 };
  if (!generated.trim()) return { ...none, value: 0 };
  if (normalizePatch(generated) === normalizePatch(expected)) {
    return { type: "similarity", value: 1, exact: true, file_overlap: 1, line_overlap: 1 };
  }
  const expectedFiles = new Set(patchedFiles(expected));
  const generatedFiles = new Set(patchedFiles(generated));
  if (expectedFiles.size === 0) return { ...none, value: 0.1 };
  let shared = 0;
  for (const f of generatedFiles) if (expectedFiles.has(f)) shared++;
  const fileOverlap = shared / expectedFiles.size;
  if (fileOverlap === 0) return { ...none, value: 0.1 };
  const lineOverlap = jaccard(changedLines(generated), changedLines(expected));
  const value = Math.min(0.85, 0.2 + 0.3 * fileOverlap + 0.35 * lineOverlap);
  return {
    type: "similarity",
    value: Math.round(value * 1000) / 1000,
    exact: false,
    file_overlap: fileOverlap,
    line_overlap: lineOverlap,
  };
}
