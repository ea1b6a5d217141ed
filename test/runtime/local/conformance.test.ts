import { LocalRuntime } from "../../../src/runtime/local/index.js";
import { defineSessionConformance } from "../conformance.js";

defineSessionConformance("LocalRuntime", async () => {
  const runtime = new LocalRuntime();
  return { runtime, cleanup: async () => void (await runtime.close()) };
});
