/** Patch hygiene: drop binary files (`git apply` cannot take them without --binary) and end with a newline. */

export interface CleanedPatch {
  patch: string;
  /** Paths whose binary diffs were left out. */
  binaryFiles: string[];
}

/** Splits a git patch into one section per file (each starts with `diff --git`); text before the first is kept. */
export function splitPatch(patch: string): string[] {
  const sections: string[] = [];
  let current: string[] = [];
  for (const line of patch.split("\n")) {
    if (line.startsWith("diff --git ") && current.length) {
      sections.push(current.join("\n"));
      current = [];
    }
    current.push(line);
  }
  if (current.length) sections.push(current.join("\n"));
  return sections;
}

function isBinarySection(section: string): boolean {
  return /^GIT binary patch$/m.test(section) || /^Binary files .* differ$/m.test(section);
}

function sectionPath(section: string): string {
  return /^diff --git a\/\S+ b\/(\S+)/.exec(section)?.[1] ?? "";
}

export function cleanPatch(raw: string): CleanedPatch {
  const binaryFiles: string[] = [];
  const kept = splitPatch(raw).filter((section) => {
    if (!isBinarySection(section)) return true;
    binaryFiles.push(sectionPath(section));
    return false;
  });
  // Only newlines are trimmed: a trailing " " line is a blank context line, and dropping it corrupts the hunk.
  const body = kept.join("\n").replace(/^\n+/, "").replace(/\n+$/, "");
  // A patch without its final newline fails in `git apply` ("corrupt patch at line N").
  return { patch: body.trim() ? `${body}\n` : "", binaryFiles };
}
