import { describe, expect, it } from "vitest";
import { DummyDeployment, getDeployment } from "../../src/deployment/index.js";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { DummyOutputsExhaustedError } from "../../src/runtime/errors.js";

describe("DummyDeployment", () => {
  it("starts, runs a session with the default output, is alive, stops (upstream test_dummy_deployment)", async () => {
    const d = getDeployment({ type: "dummy" });
    await d.start();
    await d.runtime.createSession({});
    expect(await d.runtime.runInSession({ command: "echo hi" })).toMatchObject({ output: "", exit_code: 0 });
    await d.runtime.closeSession({});
    expect(await d.isAlive()).toEqual({ is_alive: true, message: "" });
    await d.stop();
    await d.stop();
  });

  it("has a settable runtime with scripted outputs", async () => {
    const d = new DummyDeployment();
    d.runtime = new DummyRuntime({
      runInSessionOutputs: [
        { output: "one\n", exit_code: 0 },
        { output: "", exit_code: 3 },
      ],
    });
    expect((await d.runtime.runInSession({ command: "a" })).output).toBe("one\n");
    expect((await d.runtime.runInSession({ command: "b" })).exit_code).toBe(3);
    await expect(d.runtime.runInSession({ command: "c" })).rejects.toBeInstanceOf(DummyOutputsExhaustedError);
  });
});
