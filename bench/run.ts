/**
 * Benchmark runner: `npm run bench -- NAME [--quick]` imports `bench/NAME.ts` and calls its default export
 * with `{ quick, args }`. Each benchmark prints its own table and writes JSON to bench/results/.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BenchUsageError } from "./lib/usage.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface BenchOptions {
  quick: boolean;
  /** Everything after the name. */
  args: string[];
}

function available(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts") && f !== "run.ts")
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name.startsWith("-")) {
    process.stderr.write(`usage: npm run bench -- NAME [--quick]\navailable: ${available().join(", ")}\n`);
    return 2;
  }
  if (!/^[\w-]+$/.test(name) || !existsSync(join(BENCH_DIR, `${name}.ts`))) {
    process.stderr.write(
      `no benchmark named ${JSON.stringify(name)}; available: ${available().join(", ")}\n`,
    );
    return 2;
  }
  const mod = (await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href)) as {
    default?: (opts: BenchOptions) => Promise<unknown>;
  };
  if (typeof mod.default !== "function") {
    process.stderr.write(`bench/${name}.ts has no default export to run\n`);
    return 2;
  }
  await mod.default({ quick: args.includes("--quick"), args });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
