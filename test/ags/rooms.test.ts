/**
 * Rooms (issue 11): production code never imports the emulator, and the `swerex` dispatcher and the
 * ags-emulator command do not import each other. Read from the sources' import statements.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers of every import/export-from (static and dynamic) in a file, resolved to src paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, ".ts"));
}

/** The public library API and the command that runs the emulator are the only doors into it. */
const EMULATOR_USERS = new Set(["index.ts", "cli/commands/ags-emulator.ts"]);

describe("rooms", () => {
  it("no production module outside src/emulator imports it", () => {
    const offenders = tsFiles(SRC)
      .map((f) => relative(SRC, f))
      .filter((f) => !f.startsWith("emulator/") && !EMULATOR_USERS.has(f))
      .flatMap((f) =>
        imports(join(SRC, f))
          .filter((i) => i.startsWith("emulator/"))
          .map((i) => `${f} -> ${i}`),
      );
    expect(offenders).toEqual([]);
  });

  it("no command imports the swerex dispatcher (it loads them; they never load it back)", () => {
    const commands = readdirSync(join(SRC, "cli/commands")).filter((f) => f.endsWith(".ts"));
    expect(commands).toContain("ags-emulator.ts");
    const back = commands.filter((f) => imports(join(SRC, "cli/commands", f)).includes("cli/swerex.ts"));
    expect(back).toEqual([]);
  });
});
