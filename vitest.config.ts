import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more workers only adds scheduling noise to pty and network timing.
    maxWorkers: 2,
    pool: "forks",
  },
});
