/** A benchmark's own arguments are wrong: the runner says it in one line and exits 2 (no stack trace). */
export class BenchUsageError extends Error {}
