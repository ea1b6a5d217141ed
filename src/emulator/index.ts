export * from "./ags/index.js";
