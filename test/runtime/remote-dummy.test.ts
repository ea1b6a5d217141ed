/** DummyRuntime (spec 7.9), alone and behind the runtime server through RemoteRuntime. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { DummyOutputsExhaustedError, PythonValueError } from "../../src/runtime/errors.js";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { type LoopbackServer, serveOnLoopback } from "../server/helpers.js";

describe("DummyRuntime", () => {
  it("returns exit_code 0 for every action by default", async () => {
    const rt = new DummyRuntime();
    for (let i = 0; i < 3; i++) {
      expect(await rt.runInSession({ command: "ls" })).toEqual({
        output: "",
        exit_code: 0,
        failure_reason: "",
        expect_string: "",
        session_type: "bash",
      });
    }
  });

  it("answers a queue front first, then raises upstream's exhausted error", async () => {
    const rt = new DummyRuntime({ runInSessionOutputs: [{ output: "a" }, { output: "b", exit_code: 3 }] });
    expect((await rt.runInSession({ command: "x" })).output).toBe("a");
    expect(await rt.runInSession({ command: "y" })).toMatchObject({ output: "b", exit_code: 3 });
    const err = await rt.runInSession({ command: "it's" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DummyOutputsExhaustedError);
    expect((err as Error).message).toBe(
      `Dummy runtime's run_in_session_outputs list is empty: No output for "it's"`,
    );
  });

  it("has empty answers for the rest, and rejects unknown session types", async () => {
    const rt = new DummyRuntime();
    expect(await rt.execute({ command: "x" })).toEqual({ stdout: "", stderr: "", exit_code: 0 });
    expect(await rt.readFile({ path: "/x" })).toEqual({ content: "" });
    expect(await rt.writeFile({ path: "/x", content: "" })).toEqual({});
    expect(await rt.createSession({})).toEqual({ output: "", session_type: "bash" });
    expect(await rt.closeSession({})).toEqual({ session_type: "bash" });
    expect(await rt.isAlive()).toEqual({ is_alive: true, message: "" });
    await expect(rt.createSession({ session_type: "zsh" as "bash" })).rejects.toBeInstanceOf(
      PythonValueError,
    );
  });
});

describe("DummyRuntime behind swerex-remote", () => {
  let server: LoopbackServer;
  let remote: RemoteRuntime;
  beforeAll(async () => {
    server = await serveOnLoopback(new DummyRuntime({ runInSessionOutputs: [{ output: "only" }] }), "k");
    remote = new RemoteRuntime({ auth_token: "k", host: server.url });
  });
  afterAll(async () => {
    await remote?.close();
    await server?.close();
  });

  it("passes answers and the exhausted error through HTTP unchanged", async () => {
    expect((await remote.runInSession({ command: "a" })).output).toBe("only");
    const err = await remote.runInSession({ command: "b" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DummyOutputsExhaustedError);
    expect((err as Error).message).toBe(
      "Dummy runtime's run_in_session_outputs list is empty: No output for 'b'",
    );
  });
});
