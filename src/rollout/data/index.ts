export * from "./prepare.js";
export * from "./simple-cases.js";
export * from "./verl.js";
