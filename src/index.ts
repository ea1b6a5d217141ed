/** swerex-ts public library API. */

export * from "./config/index.js";
export * from "./deployment/index.js";
export * from "./emulator/index.js";
export * from "./rollout/index.js";
export * from "./runtime/index.js";
export * from "./server/index.js";
