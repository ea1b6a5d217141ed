export * from "./errors.js";
export * from "./protocol.js";
export type { IsAliveOptions, Runtime } from "./runtime.js";
