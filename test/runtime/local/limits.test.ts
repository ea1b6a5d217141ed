/**
 * Issue 13 items 1 and 10 on a real LocalRuntime: the output kept per command is bounded (head and tail,
 * a note, `extra_info`), for sessions and `execute`; the number of sessions is capped; sessions never
 * write the user's `~/.bash_history`.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandTimeoutError, SwerexError } from "../../../src/runtime/errors.js";
import { LocalRuntime } from "../../../src/runtime/local/index.js";
import { makeQuietHome, type QuietHome } from "../../helpers/quiet-home.js";

const BOUND = 10_000;

// Sessions start with an empty ~/.bashrc: what the machine's own startup files do is not under test here.
const realHome = process.env.HOME;
let home: QuietHome;
let quietHome = "";
beforeAll(async () => {
  home = await makeQuietHome();
  quietHome = home.path;
  process.env.HOME = quietHome;
});
afterAll(async () => {
  process.env.HOME = realHome;
  await home.remove();
});
/** Far more than the bound: 1 MB of `y\n` (2 MB of characters on the terminal, which sends CRLF). */
const BIG = 1_000_000;

describe("output bound", () => {
  const rt = new LocalRuntime({ maxOutput: BOUND });
  afterAll(async () => {
    await rt.close();
  });

  it("keeps the head and tail of a session command's output, says so in the text and in extra_info", async () => {
    await rt.createSession({ session: "big", startup_timeout: 30 });
    const r = await rt.runInSession({
      session: "big",
      command: `yes | head -c ${BIG}; echo END`,
      timeout: 120,
    });
    expect(r.exit_code).toBe(0);
    expect(r.output.length).toBeLessThan(BOUND + 200);
    expect(r.output.startsWith("y\ny\ny\n")).toBe(true);
    expect(r.output.endsWith("y\ny\nEND\n")).toBe(true);
    expect(r.output).toMatch(
      /\[\.\.\. \d+ characters of output omitted: only the first and last 5000 are kept/,
    );
    expect(r.extra_info).toMatchObject({ output_truncated: true });
    expect(r.extra_info?.output_dropped_chars as number).toBeGreaterThan(BIG - BOUND);
    // The session is in sync and the next command is not marked.
    const next = await rt.runInSession({ session: "big", command: "echo ok" });
    expect(next).toEqual({
      output: "ok\n",
      exit_code: 0,
      failure_reason: "",
      expect_string: "SHELLPS1PREFIX",
      session_type: "bash",
    });
  });

  it("a command printing without end (`yes`) times out with bounded output; the session and others keep working", async () => {
    await rt.createSession({ session: "yes", startup_timeout: 30 });
    await rt.createSession({ session: "other", startup_timeout: 30 });
    const err = await rt
      .runInSession({ session: "yes", command: "yes", timeout: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    const info = (err as CommandTimeoutError).extraInfo;
    expect((info.output as string).length).toBeLessThan(BOUND + 200);
    expect(info.output_truncated).toBe(true);
    expect((await rt.runInSession({ session: "other", command: "echo alive" })).output).toBe("alive\n");
    await rt.runInSession({ session: "yes", action_type: "bash_interrupt" });
    expect((await rt.runInSession({ session: "yes", command: "echo back" })).output).toBe("back\n");
  });

  it("execute keeps the head and tail of each stream and says so in extra_info", async () => {
    const r = await rt.execute({ command: `yes | head -c ${BIG}; echo END`, shell: true });
    expect(r.exit_code).toBe(0);
    expect(r.stdout.length).toBeLessThan(BOUND + 200);
    expect(r.stdout.startsWith("y\ny\n")).toBe(true);
    expect(r.stdout.endsWith("y\nEND\n")).toBe(true);
    expect(r.stdout).toContain(`${BIG + 4 - BOUND} bytes of output omitted`);
    expect(r.extra_info).toEqual({
      output_truncated: true,
      stdout_dropped_bytes: BIG + 4 - BOUND,
      stderr_dropped_bytes: 0,
    });
    const small = await rt.execute({ command: "echo hi", shell: true });
    expect(small).toEqual({ stdout: "hi\n", stderr: "", exit_code: 0 });
  });
});

describe("session cap", () => {
  const rt = new LocalRuntime({ maxSessions: 2 });
  afterAll(async () => {
    await rt.close();
  });

  it("refuses one session more than the cap with an error naming it; closing one makes room", async () => {
    await rt.createSession({ session: "a", startup_timeout: 30 });
    await rt.createSession({ session: "b", startup_timeout: 30 });
    const err = await rt.createSession({ session: "c", startup_timeout: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwerexError);
    expect((err as Error).message).toContain("2 sessions are already open");
    expect((err as Error).message).toContain("--max-sessions");
    await rt.closeSession({ session: "a" });
    await rt.createSession({ session: "c", startup_timeout: 30 });
    expect(rt.sessionNames.sort()).toEqual(["b", "c"]);
  });
});

describe("shell history", () => {
  it("a session never writes ~/.bash_history, even when ~/.bashrc asks for it", async () => {
    const home = await mkdtemp(join(tmpdir(), "swerex-home-"));
    const history = join(home, ".bash_history");
    await writeFile(
      join(home, ".bashrc"),
      `HISTFILE=${history}\nHISTSIZE=1000\nHISTFILESIZE=1000\nshopt -s histappend\n`,
    );
    const oldHome = quietHome;
    const rt = new LocalRuntime();
    try {
      process.env.HOME = home;
      await rt.createSession({ session: "h", startup_timeout: 30 });
      process.env.HOME = oldHome;
      await rt.runInSession({ session: "h", command: "echo agent-command-1" });
      await rt.runInSession({ session: "h", command: "history | tail -n 3 >/dev/null" });
      await rt.closeSession({ session: "h" });
      const written = existsSync(history) ? await readFile(history, "utf8") : "";
      expect(written).toBe("");
    } finally {
      process.env.HOME = oldHome;
      await rt.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
