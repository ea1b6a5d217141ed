// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash source, not templates.
/**
 * LocalRuntime's bash sessions beyond the shared conformance suite: fixes of upstream bugs (each of these
 * fails on SWE-ReX 1.4), start-up, concurrency, shell death, and `close()`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  BashIncorrectSyntaxError,
  CommandTimeoutError,
  NonZeroExitCodeError,
  PexpectEOFError,
  PexpectTimeoutError,
  SessionDoesNotExistError,
} from "../../../src/runtime/errors.js";
import { STARTUP_PAUSE_MS } from "../../../src/runtime/local/bash-session.js";
import { checkBashCommand, LocalRuntime } from "../../../src/runtime/local/index.js";
import type { ActionInput } from "../../../src/runtime/protocol.js";
import { INTERRUPT, PAGER_INTERRUPT, waitForFile, within } from "../conformance.js";
import { processesLeft, processesWith } from "./procs.js";

const STARTUP = { startup_timeout: 60 };

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
const T = 60;

let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "swerex-local-session-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("LocalRuntime sessions", () => {
  let rt: LocalRuntime;
  beforeEach(async () => {
    rt = new LocalRuntime();
    await rt.createSession(STARTUP);
  });
  afterEach(async () => {
    await rt.close();
  });
  const run = (a: ActionInput & { command: string }) => rt.runInSession({ timeout: T, ...a });

  describe("fixes of upstream bugs", () => {
    it("aliases defined earlier in a command work later in it (upstream joins lines with ' ; ')", async () => {
      const r = await run({ command: "alias hi='echo hello'\nhi" });
      expect(r.output).toBe("hello\n");
    });

    it("no history expansion of `!` (upstream types commands into readline)", async () => {
      expect((await run({ command: "echo a!b" })).output).toBe("a!b\n");
    });

    it("tabs are not completions (upstream types commands into readline)", async () => {
      expect((await run({ command: "printf '%s\\n' 'a\tb'" })).output).toBe("a\tb\n");
    });

    it("an output line that looks like the prompt does not end the command", async () => {
      const r = await run({ command: "echo SHELLPS1PREFIX; sleep 0.3; echo after" });
      expect(r.output).toBe("\nafter\n");
      expect(r.exit_code).toBe(0);
    });

    it("a command line longer than the tty's 4096-byte line limit", async () => {
      const word = "x".repeat(10_000);
      expect((await run({ command: `echo ${word}` })).output).toBe(`${word}\n`);
    });

    it("interrupt kills the stopped job, not an older background job (upstream: kill -9 %1)", async () => {
      await run({ command: "sleep 60 &" });
      await expect(run({ command: "echo 'blargh'|less -+F", timeout: 0.2 })).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      await rt.runInSession(PAGER_INTERRUPT);
      const jobs = await run({ command: "jobs" });
      expect(jobs.output).toMatch(/^\[1\]\+?\s+Running\s+sleep 60 &\n$/);
    });

    it("late output of a timed-out command shows up once, in the interrupt", async () => {
      const flag = join(tmp, `late-${Date.now()}`);
      await expect(
        run({ command: `echo one; sleep 0.5; echo two; touch ${flag}; sleep 30`, timeout: 0.2 }),
      ).rejects.toBeInstanceOf(CommandTimeoutError);
      await waitForFile(flag, 30_000);
      const i = await rt.runInSession(INTERRUPT);
      expect(i.output).toBe("two");
      expect((await run({ command: "echo clean" })).output).toBe("clean\n");
    });
  });

  describe("the syntax check inside the session's round trip", () => {
    it.each([
      "echo (",
      "if true; then",
      "echo 'a",
      "for x in; do",
      "echo a\ndone",
      "a\tb )",
      "echo $'\\xff' )",
    ])("%j raises exactly what upstream's separate bash -n raises", async (command) => {
      const inSession = await run({ command }).catch((e: unknown) => e);
      const separate = await checkBashCommand(command).catch((e: unknown) => e);
      expect(inSession).toBeInstanceOf(BashIncorrectSyntaxError);
      expect(separate).toBeInstanceOf(BashIncorrectSyntaxError);
      expect((inSession as Error).message).toBe((separate as Error).message);
      expect((inSession as BashIncorrectSyntaxError).extraInfo).toEqual(
        (separate as BashIncorrectSyntaxError).extraInfo,
      );
      expect((await run({ command: "echo clean" })).output).toBe("clean\n");
    });

    it("a command that fails the check runs no part of itself", async () => {
      const f = join(tmp, `ran-${Date.now()}`);
      await expect(run({ command: `touch ${f}\necho (` })).rejects.toBeInstanceOf(BashIncorrectSyntaxError);
      expect(await rt.readFile({ path: f }).catch((e: unknown) => e)).toBeInstanceOf(Error);
    });

    it("the check ignores a BASH_ENV the user exported", async () => {
      const env = join(tmp, `bash-env-${Date.now()}.sh`);
      await writeFile(env, "echo SOURCED >&2\n");
      await run({ command: `export BASH_ENV=${env}` });
      const r = await run({ command: 'echo "checked"' });
      expect(r.output).toBe("checked\n");
      const err = await run({ command: "echo (" }).catch((e: unknown) => e);
      expect((err as BashIncorrectSyntaxError).extraInfo.bash_stderr).not.toContain("SOURCED");
    });

    it("a command may delete the session's private directory; the next one still runs", async () => {
      // A TMPDIR of its own, so the command deletes exactly this session's directory.
      const own = await mkdtemp(join(tmp, "tmpdir-"));
      const saved = process.env.TMPDIR;
      process.env.TMPDIR = own;
      const other = new LocalRuntime();
      try {
        await other.createSession({ session: "s", ...STARTUP });
        restoreEnv("TMPDIR", saved);
        const go = (command: string) =>
          other.runInSession({ session: "s", command, timeout: T, check: "silent" });
        await go(`rm -rf ${own}/swerex-*; ls ${own}`);
        expect((await go('echo "still here"; false')).output).toBe("still here\n");
        expect((await go("echo plain $?")).output).toBe("plain 1\n");
      } finally {
        restoreEnv("TMPDIR", saved);
        await other.close();
      }
    });

    it("a late line of a command that timed out never runs a newer command", async () => {
      // `echo two` is typed while `sleep` runs and only read by bash later; it must still run `echo two`,
      // not whatever the session's command file holds by then.
      await expect(run({ command: "sleep 1; echo one", timeout: 0.1 })).rejects.toBeInstanceOf(
        CommandTimeoutError,
      );
      await expect(run({ command: "echo two", timeout: 0.1 })).rejects.toBeInstanceOf(CommandTimeoutError);
      expect((await run({ command: "echo three" })).output).toBe("one\ntwo\nthree\n");
    });
  });

  // Expected strings as a real interactive bash 5.2 on a pty prints them for the same lines typed.
  describe("as at an interactive prompt", () => {
    it("$? is the previous command's status", async () => {
      await run({ command: "false", check: "silent" });
      expect((await run({ command: "echo $?" })).output).toBe("1\n");
      expect((await run({ command: "echo $?" })).output).toBe("0\n");
      await expect(run({ command: "echo (" })).rejects.toBeInstanceOf(BashIncorrectSyntaxError);
      expect((await run({ command: "echo $?" })).output).toBe("2\n");
    });

    it("$? is 130 after a command that timed out and was interrupted", async () => {
      await expect(run({ command: "sleep 30", timeout: 0.2 })).rejects.toBeInstanceOf(CommandTimeoutError);
      await rt.runInSession(INTERRUPT);
      expect((await run({ command: "echo rc=$?" })).output).toBe("rc=130\n");
    });

    it("$? is 130 after a command interrupted while it ran", async () => {
      const [r] = await Promise.all([
        within(30_000, run({ command: "sleep 1000", timeout: null, check: "silent" })),
        within(30_000, rt.runInSession(INTERRUPT)),
      ]);
      expect(r.exit_code).toBe(130);
      expect((await run({ command: "echo rc=$?" })).output).toBe("rc=130\n");
    });

    it("a top-level return is an error and the next line still runs", async () => {
      const r = await run({ command: "echo before\nreturn 3\necho after", check: "silent" });
      expect(r.output).toBe(
        "before\nbash: return: can only `return' from a function or sourced script\nafter\n",
      );
      expect(r.exit_code).toBe(0);
    });

    it("set -x traces the command and never our own line", async () => {
      // A developer's ~/.bashrc may set PROMPT_COMMAND (pyenv does); bash traces it before each prompt,
      // at a terminal too. This test is about the command's own trace.
      await run({ command: "unset PROMPT_COMMAND" });
      expect((await run({ command: "set -x" })).output).toBe("");
      // An interactive bash prints `+ echo hi`: the command runs one `eval` deep (docs/local-runtime.md).
      expect((await run({ command: "echo hi" })).output).toBe("++ echo hi\nhi\n");
      expect((await run({ command: "false", check: "silent" })).exit_code).toBe(1);
      expect((await run({ command: "set +x" })).output).toBe("++ set +x\n");
      expect((await run({ command: "echo done $?" })).output).toBe("done 0\n");
    });

    it("$LINENO counts the lines of a command, and goes on from one command to the next", async () => {
      const a = (await run({ command: "echo $LINENO\necho $LINENO" })).output.split("\n").map(Number);
      const b = Number((await run({ command: "echo $LINENO" })).output);
      expect(a[1]).toBe((a[0] as number) + 1);
      // An interactive bash would say a[0] + 2 here (a line per line typed; docs/local-runtime.md).
      expect(b).toBe((a[0] as number) + 1);
    });
  });

  describe("interrupts that do not queue", () => {
    it("an interrupt sent together with a command stops it even before it started", async () => {
      const [r, i] = await Promise.all([
        within(30_000, run({ command: "sleep 1000", timeout: null, check: "silent" })),
        within(30_000, rt.runInSession(INTERRUPT)),
      ]);
      expect(r.exit_code).toBe(130);
      expect(i.exit_code).toBe(0);
      expect((await run({ command: "echo ok" })).output).toBe("ok\n");
    });

    it("an interrupt stops a REPL that waits forever for a pattern", async () => {
      const repl = within(
        60_000,
        run({ command: "python3", is_interactive_command: true, expect: ["WONTHITTHIS"], timeout: null }),
      ).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 500));
      // A REPL answers Ctrl-C with its own prompt, not bash's: one Ctrl-C, then the Ctrl-Z + kill fallback.
      await within(60_000, rt.runInSession({ ...INTERRUPT, n_retry: 1 }));
      const err = await repl;
      expect(err).toBeInstanceOf(NonZeroExitCodeError);
      expect((err as NonZeroExitCodeError).extraInfo.exit_code).toBe(130);
      expect((await run({ command: "echo ok" })).output).toBe("ok\n");
    });

    it("a second interrupt queues behind the first and finds an idle prompt", async () => {
      const running = within(30_000, run({ command: "sleep 1000", timeout: null, check: "silent" }));
      await new Promise((r) => setTimeout(r, 300));
      const [a, b] = await Promise.all([
        within(30_000, rt.runInSession(INTERRUPT)),
        within(30_000, rt.runInSession(INTERRUPT)),
      ]);
      expect([a.exit_code, b.exit_code]).toEqual([0, 0]);
      expect((await running).exit_code).toBe(130);
      expect((await run({ command: "echo ok" })).output).toBe("ok\n");
    });
  });

  describe("state and semantics", () => {
    it("variables, cd and functions persist between actions", async () => {
      await run({ command: 'x=42\ncd /tmp\nf() { echo "f:$1"; }' });
      expect((await run({ command: "echo $x; pwd; f y" })).output).toBe("42\n/tmp\nf:y\n");
      // As with upstream's `/usr/bin/env bash`: `$0` is plain "bash", so messages read "bash: ...".
      expect((await run({ command: "echo $0" })).output).toBe("bash\n");
    });

    it("a large output arrives whole and in order", async () => {
      const want = `${Array.from({ length: 200_000 }, (_, i) => i + 1).join("\n")}\n`;
      expect((await run({ command: "seq 1 200000" })).output).toBe(want);
    });

    it("timeout null waits for the command", async () => {
      const r = await rt.runInSession({ command: "sleep 0.5; echo done", timeout: null });
      expect(r.output).toBe("done\n");
    });

    it("expect patterns are regexes; expect_string is the pattern that matched", async () => {
      const r = await run({ command: "echo 'Password: '; sleep 0.2; echo rest", expect: ["Pass\\w+:"] });
      expect(r.expect_string).toBe("Pass\\w+:");
      expect(r.output).toBe("");
      // The command went on in the background of the wait; the next action still gets clean output.
      await new Promise((r) => setTimeout(r, 500));
      expect((await run({ command: "echo next" })).output).toMatch(/next\n$/);
    });

    it("a normal command's expect_string is the prompt", async () => {
      expect((await run({ command: "true" })).expect_string).toBe("SHELLPS1PREFIX");
    });

    it("ANSI sequences are stripped, the tty's CRLF becomes LF, a lone CR stays", async () => {
      const r = await run({ command: "printf '\\033[31mred\\033[0m\\nx\\ry\\n'" });
      expect(r.output).toBe("red\nx\ry\n");
    });

    it("invalid UTF-8 in output is backslash-escaped", async () => {
      expect((await run({ command: "printf 'a\\377b\\n'" })).output).toBe("a\\xffb\n");
    });

    it("runs one session's actions one at a time, in order", async () => {
      const [a, b] = await Promise.all([
        run({ command: "v=first; sleep 0.5; echo $v" }),
        run({ command: "echo ${v:-unset}; v=second; echo $v" }),
      ]);
      expect(a.output).toBe("first\n");
      expect(b.output).toBe("first\nsecond\n");
    });

    it("runs different sessions at the same time", async () => {
      await rt.createSession({ ...STARTUP, session: "other" });
      const flag = join(tmp, `flag-${Date.now()}`);
      // The first command only finishes once the second, in the other session, has run.
      const waiting = run({ command: `while [ ! -e ${flag} ]; do sleep 0.05; done; echo seen` });
      await rt.runInSession({ command: `touch ${flag}`, session: "other", timeout: T });
      expect((await waiting).output).toBe("seen\n");
    });

    it("an interrupt at an idle prompt is harmless", async () => {
      const i = await rt.runInSession(INTERRUPT);
      expect(i.exit_code).toBe(0);
      expect((await run({ command: "echo ok" })).output).toBe("ok\n");
    });

    it("interactive output keeps REPL state between actions", async () => {
      await run({ command: "python3", is_interactive_command: true, expect: [">>> "] });
      await run({ command: "x = 6 * 7", is_interactive_command: true, expect: [">>> "] });
      const r = await run({ command: "print(x)", is_interactive_command: true, expect: [">>> "] });
      expect(r.output).toBe("42");
      await run({ command: "quit()", is_interactive_quit: true });
      expect((await run({ command: "echo back" })).output).toBe("back\n");
    });

    it("an interrupt fails cleanly when nothing can stop the foreground program", async () => {
      // A program that ignores SIGINT and SIGTSTP: neither Ctrl-C nor Ctrl-Z gets the prompt back.
      await expect(
        run({
          command:
            "python3 -c 'import signal,time; signal.signal(2, 1); signal.signal(20, 1); print(\"go\", flush=True); time.sleep(60)'",
          timeout: 3,
          expect: ["go"],
        }),
      ).resolves.toMatchObject({ expect_string: "go" });
      const err = await rt
        .runInSession({ action_type: "bash_interrupt", timeout: 0.2, n_retry: 2 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PexpectTimeoutError);
      expect((err as Error).message).toBe("Failed to interrupt session");
    });

    it("a shell that exits gives PexpectEOFError, now and on later actions", async () => {
      const err = await run({ command: "echo bye; exit 3" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PexpectEOFError);
      // An interactive bash says "exit" as it leaves (upstream's typed commands print it too).
      expect((err as PexpectEOFError).extraInfo.output).toBe("bye\nexit\n");
      await expect(run({ command: "echo again" })).rejects.toBeInstanceOf(PexpectEOFError);
      await rt.closeSession({});
    });
  });

  describe("lifecycle", () => {
    it("close() leaves no process behind: a running command, a background job, a nohup'd job", async () => {
      const tag = `${process.pid}${Date.now() % 100_000}`;
      const marks = [`1000.${tag}1`, `1000.${tag}2`, `1000.${tag}3`];
      await rt.createSession({ ...STARTUP, session: "bg" });
      await rt.runInSession({ session: "bg", command: `sleep ${marks[1]} &`, timeout: T });
      await rt.runInSession({
        session: "bg",
        command: `nohup sleep ${marks[2]} >/dev/null 2>&1 &`,
        timeout: T,
      });
      const running = run({ command: `sleep ${marks[0]}`, timeout: null }).catch((e: unknown) => e);
      expect(await waitUntil(async () => (await processesWith(marks)).length === 3, 30_000)).toBe(true);
      await rt.close();
      expect(await running).toBeInstanceOf(PexpectEOFError);
      expect(await processesLeft(marks)).toEqual([]);
    });

    it("close() forgets the sessions, so the default session can be created again", async () => {
      await rt.close();
      expect(rt.sessionNames).toEqual([]);
      await expect(run({ command: "true" })).rejects.toBeInstanceOf(SessionDoesNotExistError);
      await rt.createSession(STARTUP);
      expect((await run({ command: "echo again" })).output).toBe("again\n");
    });

    it("close_session ends the shell's jobs, also those that ignore the hang-up", async () => {
      const pidFile = join(tmp, `job-${Date.now()}.pid`);
      await run({
        command: `sleep 60 & echo $! > ${pidFile}; nohup sleep 60 >/dev/null 2>&1 & echo $! >> ${pidFile}`,
      });
      const pids = (await rt.readFile({ path: pidFile })).content.trim().split("\n").map(Number);
      expect(pids).toHaveLength(2);
      expect(pids.every(isRunning)).toBe(true);
      await rt.closeSession({});
      expect(await waitUntil(() => !pids.some(isRunning), 10_000)).toBe(true);
    });
  });
});

describe("LocalRuntime session start-up", () => {
  const rt = new LocalRuntime();
  afterAll(async () => {
    await rt.close();
  });

  it("sources startup_source files", async () => {
    const f = join(tmp, "env.sh");
    await writeFile(f, "export FROM_STARTUP=yes\nalias hey='echo hey'\n");
    await rt.createSession({ ...STARTUP, session: "sourced", startup_source: [f] });
    const r = await rt.runInSession({ command: "echo $FROM_STARTUP; hey", session: "sourced", timeout: T });
    expect(r.output).toBe("yes\nhey\n");
    await rt.closeSession({ session: "sourced" });
  });

  it("a slow start names startup_timeout in a pexpect TIMEOUT, and leaves the name free", async () => {
    const slow = join(tmp, "slow.sh");
    await writeFile(slow, "sleep 5\n");
    const err = await rt
      .createSession({ session: "slow", startup_source: [slow], startup_timeout: 0.5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PexpectTimeoutError);
    expect((err as PexpectTimeoutError).classPath).toBe("pexpect.exceptions.TIMEOUT");
    expect((err as Error).message).toContain("startup_timeout=0.5");
    expect((err as Error).message).toContain("raise startup_timeout");
    expect(rt.sessionNames).not.toContain("slow");
    await rt.createSession({ ...STARTUP, session: "slow" });
    await rt.closeSession({ session: "slow" });
  });

  it("the startup_timeout clock starts 0.3 s after the spawn, as upstream's does", async () => {
    const slow = join(tmp, "slower.sh");
    await writeFile(slow, "sleep 5\n");
    const started = Date.now();
    const err = await rt
      .createSession({ session: "slow", startup_source: [slow], startup_timeout: 0.2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PexpectTimeoutError);
    // A lower bound only (timers never fire early): upstream's pause plus the timeout, not the timeout alone.
    expect(Date.now() - started).toBeGreaterThanOrEqual(STARTUP_PAUSE_MS + 200);
  });

  it("startup output is returned", async () => {
    const f = join(tmp, "hello.sh");
    await writeFile(f, "echo hello from startup\n");
    const r = await rt.createSession({ ...STARTUP, session: "hello", startup_source: [f] });
    expect(r.output).toContain("hello from startup\n");
    expect(r.output).not.toContain("SHELLPS1PREFIX");
    expect(r.output).not.toContain("SWEREX");
    await rt.closeSession({ session: "hello" });
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
