export * from "./completion-parse.js";
export * from "./create.js";
export * from "./errors.js";
export * from "./openai.js";
export * from "./replay.js";
export * from "./schema.js";
export * from "./trainer.js";
