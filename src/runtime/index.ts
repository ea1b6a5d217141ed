export * from "./ags.js";
export * from "./dummy.js";
export * from "./errors.js";
export * from "./local/index.js";
export * from "./protocol.js";
export * from "./remote.js";
export type { IsAliveOptions, Runtime } from "./runtime.js";
export { sleep } from "./sleep.js";
export { type WaitUntilAliveOptions, waitUntilAlive } from "./wait.js";
