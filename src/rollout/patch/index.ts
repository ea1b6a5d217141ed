export * from "./apply.js";
export * from "./clean.js";
export * from "./extract.js";
