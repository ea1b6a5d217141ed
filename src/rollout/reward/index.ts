export * from "./eval-script.js";
export * from "./grading.js";
export * from "./log-parser.js";
export * from "./reward.js";
export * from "./similarity.js";
export * from "./swebench.js";
