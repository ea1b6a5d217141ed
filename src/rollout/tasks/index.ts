export * from "./load.js";
export * from "./sandbox.js";
export * from "./setup.js";
export * from "./task.js";
