export * from "./policy/index.js";
export * from "./proxy/index.js";
export type * from "./types.js";
