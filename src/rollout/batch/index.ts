export * from "./config.js";
export * from "./progress.js";
export * from "./results.js";
export * from "./run-batch.js";
export * from "./summary.js";
