/**
 * One persistent bash on a real pty, driven like SWE-ReX's `BashSession`: prompt `PS1=SHELLPS1PREFIX`,
 * `PS2=''`, `PS0=''`, tty echo off, `TERM=dumb` (no bracketed paste), output with ANSI codes stripped and
 * CRLF → LF, not trimmed.
 *
 * How a normal command is sent differs from upstream, to fix its bugs (docs/local-runtime.md): the command
 * text goes to a private file, and the shell gets one line that `eval`s it at top level and prints an end
 * marker with `$?`. It runs in the shell itself, so variables, `cd`, functions, aliases and jobs persist;
 * no parser decides how to join lines, so `a &\nb`, several heredocs, `A=()`, `[[ ]]`, tabs and very long
 * lines all work; the end marker carries the exit code and a random nonce, so output can never fake it and
 * late or stale output cannot be taken for the end of the command. One prompt comes back per action.
 * As at an interactive prompt: `$?` is the previous command's status (130 after an interrupt), a top-level
 * `return` is an error and the next line runs, and `set -x` traces the command, never our own line.
 */
import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as pty from "node-pty";
import type { Logger } from "pino";
import {
  CommandTimeoutError,
  type ExtraInfo,
  NonZeroExitCodeError,
  PexpectEOFError,
  PexpectTimeoutError,
  SwerexError,
} from "../errors.js";
import type {
  BashAction,
  BashInterruptAction,
  BashObservation,
  CreateBashSessionRequest,
} from "../protocol.js";
import { delay as sleep } from "../timer.js";
import { bashSyntaxError } from "./bash-check.js";
import { isPlainBashCommand } from "./bash-plain.js";
import { decodeBytes } from "./codec.js";
import { CommandFile } from "./command-file.js";
import { SerialQueue } from "./mutex.js";
import { killSession } from "./process-session.js";
import {
  Cancellation,
  ExpectAborted,
  ExpectEOF,
  type ExpectResult,
  ExpectTimeout,
  Literal,
  type Pattern,
  PrefixedMarker,
  PtyExpect,
  UserRegex,
} from "./pty-expect.js";
import { pyFloat, pyRepr } from "./pyrepr.js";
import { makeOwnedTempDir } from "./temp-dirs.js";
import { cleanOutput, PS1 } from "./terminal-text.js";

/** Upstream's fixed pause between spawning bash and starting the `startup_timeout` clock (spec 5.2). */
export const STARTUP_PAUSE_MS = 300;
/** After an end or sync marker bash prints its prompt at once; this only bounds a shell whose PS1 was changed. */
const PROMPT_AFTER_MARKER_MS = 2_000;
/** How long a resynchronisation (after an interrupt or a REPL quit) may take once bash is back at its prompt. */
const SYNC_MS = 5_000;
/** Pause between Ctrl-C attempts (upstream: 0.2 s). */
const INTERRUPT_PAUSE_MS = 200;
/** What an interrupt that stopped at a caller's pattern (not at the prompt) waits for trailing output. */
const DRAIN_MS = 500;
/** SIGHUP first (bash passes it on to its jobs); what is left after this is killed. */
const CLOSE_GRACE_MS = 1_000;
/** The exit code an interrupted command reports, as `$?` after Ctrl-C at a terminal (128 + SIGINT). */
export const INTERRUPTED_EXIT_CODE = 130;
/** A job status line bash prints before a prompt: `[1]+  Done    sleep 1`, `[2]-  Killed ...`. */
const JOB_NOTICE = /^\[\d+\][-+ ] .*(?:\n|$)/gm;
/** `$?` after a command line bash could not parse. */
const SYNTAX_ERROR_STATUS = 2;

/** Random bytes drawn in bulk: one `randomBytes` call per command cost more than the rest of building it. */
const NONCE_BYTES = 8;
let noncePool = Buffer.alloc(0);
let noncePos = 0;

function nonce(): string {
  if (noncePos + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_BYTES * 512);
    noncePos = 0;
  }
  noncePos += NONCE_BYTES;
  return noncePool.toString("hex", noncePos - NONCE_BYTES, noncePos);
}

/** Single-quotes a string for bash. */
function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** `s` as one bash word: as is when it is made of safe characters only, else single-quoted. */
function shWord(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : shq(s);
}

/** A `startup_source` path for `source`: quoted, with a leading `~/` still meaning `$HOME`. */
function sourcePath(p: string): string {
  return p.startsWith("~/") ? `"$HOME"/${shq(p.slice(2))}` : shq(p);
}

/** Prints `SWEREX<tag>` without the line itself containing that text, so an echoed line never matches. */
function printMarker(tag: string): string {
  return `builtin printf '%s%s\\n' SWEREX ${shq(tag)}`;
}

/** Matches what `printMarker(tag)` prints, line end included. */
function lineMarker(tag: string): PrefixedMarker {
  return new PrefixedMarker(`SWEREX${tag}`, /\r?\n/y);
}

function seconds(s: number | null): number | null {
  return s === null ? null : Math.max(0, Math.round(s * 1000));
}

/** A `BashInterruptAction` that arrived while a command was running, waiting to be carried out. */
interface PendingInterrupt {
  action: BashInterruptAction;
  resolve(o: BashObservation): void;
  reject(e: unknown): void;
  served: boolean;
}

/** The command currently running on the terminal, and how an interrupt takes the terminal from it. */
interface Running {
  abort: Cancellation;
  interrupt?: PendingInterrupt;
}

export interface BashSessionOptions {
  bash: string;
  logger?: Logger;
  /** Output kept per action (see PtyExpectOptions); default DEFAULT_MAX_OUTPUT_CHARS. */
  maxOutputChars?: number;
}

export class BashSession {
  private readonly queue = new SerialQueue();
  private closed = false;
  /** Commands accepted and not yet ended, oldest first; the first one owns (or will own) the terminal. */
  private readonly inFlight: Running[] = [];
  /** Commands are sourced from here; a command that did not finish leaves it "in use" (see `rotate`). */
  private readonly cmdFile: CommandFile;
  private cmdFileInUse = false;
  /** `$?` for the next command, as an interactive bash would have it: the last status, 130 after an interrupt. */
  private lastStatus = 0;

  private constructor(
    readonly name: string,
    private readonly term: PtyExpect,
    private readonly bash: string,
    private readonly workDir: string,
    private readonly logger: Logger | undefined,
  ) {
    this.cmdFile = new CommandFile(workDir);
  }

  /** Starts bash and waits (at most `startup_timeout`) for it to be ready; returns the session and its startup output. */
  static async start(
    req: CreateBashSessionRequest,
    opts: BashSessionOptions,
  ): Promise<{ session: BashSession; output: string }> {
    // Short: every character of the line we send costs the shell about 3 µs (readline reads byte by byte).
    const workDir = await makeOwnedTempDir("swerex-");
    const ready = nonce();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, { PS1, PS2: "", PS0: "", TERM: "dumb" });
    // Echo goes off before the interactive bash starts, so nothing we type is ever echoed back (readline
    // checks the tty's ECHO flag); `exec -a bash` gives `$0 == "bash"` as with `/usr/bin/env bash`.
    // The set-up runs from the rc file, right after ~/.bashrc, before the first prompt: no round trip of a
    // typed line, which on a loaded machine made our starts slower than upstream's (bench/session-start).
    // bash reads /etc/bash.bashrc (Debian) and then this file instead of ~/.bashrc, so it sources that itself.
    const sync = nonce();
    const rcFile = join(workDir, "rc");
    await writeFile(
      rcFile,
      [
        "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi",
        // (no second `stty -echo`: a fork costs up to 0.2 s of a loaded machine; echo is already off)
        "bind 'set enable-bracketed-paste off' 2>/dev/null",
        ...req.startup_source.map((f) => `source ${sourcePath(f)}`),
        // After the startup files: an agent's commands must never land in the user's ~/.bash_history.
        "unset HISTFILE",
        `export PS1=${shq(PS1)} PS2='' PS0=''`,
        printMarker(`SYNC_${sync}`),
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const bootstrap = `stty -echo iutf8 2>/dev/null || stty -echo 2>/dev/null; ${printMarker(`READY_${ready}`)}; exec -a bash "$0" --rcfile "$1" -i`;
    const p = pty.spawn(opts.bash, ["-c", bootstrap, opts.bash, rcFile], {
      name: "dumb",
      cols: 80,
      rows: 24,
      cwd: process.cwd(),
      env,
      encoding: null,
    });
    const term = new PtyExpect(p, { maxOutputChars: opts.maxOutputChars });
    const session = new BashSession(req.session, term, opts.bash, workDir, opts.logger);
    // Upstream spawns, sleeps STARTUP_PAUSE_MS, and only then expects the prompt within startup_timeout.
    // We do not pause (a session is ready in ~40 ms), but allow the same time from the spawn, so a loaded
    // machine fails no more session starts than upstream does.
    const deadline = Date.now() + STARTUP_PAUSE_MS + (seconds(req.startup_timeout) ?? 0);
    const left = () => Math.max(0, deadline - Date.now());
    let output = "";
    try {
      await term.expect([lineMarker(`READY_${ready}`)], left());
      const r = await term.expect([lineMarker(`SYNC_${sync}`)], left());
      output = cleanOutput(r.before);
      await session.promptAfterMarker(left());
    } catch (e) {
      await session.kill();
      if (e instanceof ExpectTimeout) {
        throw new PexpectTimeoutError(
          `bash session ${pyRepr(req.session)} did not start within startup_timeout=${pyFloat(req.startup_timeout)} seconds ` +
            "(the shell's startup files, ~/.bashrc or startup_source, may be slow): raise startup_timeout in the " +
            `create_session request. Output so far: ${pyRepr(cleanOutput(e.before))}`,
          { extraInfo: { output: cleanOutput(e.before) } },
        );
      }
      if (e instanceof ExpectEOF) {
        throw new PexpectEOFError(
          `bash session ${pyRepr(req.session)} exited during startup (exit code ${e.exitCode}). Output: ${pyRepr(cleanOutput(e.before))}`,
          { extraInfo: { output: cleanOutput(e.before) } },
        );
      }
      throw e;
    }
    return { session, output };
  }

  /**
   * Runs an action; actions on one session run one at a time, in order. The exception: an interrupt that
   * arrives while a command runs does not queue behind it; it takes the terminal at once, and the command
   * ends as interrupted (exit code 130, see `interrupted`).
   */
  run(action: BashAction | BashInterruptAction): Promise<BashObservation> {
    const droppedBefore = this.term.droppedTotal;
    const note = (): ExtraInfo | undefined => {
      const dropped = this.term.droppedTotal - droppedBefore;
      return dropped > 0 ? { output_truncated: true, output_dropped_chars: dropped } : undefined;
    };
    return this.runAction(action).then(
      (o) => {
        const extra = note();
        return extra ? { ...o, extra_info: { ...o.extra_info, ...extra } } : o;
      },
      (e: unknown) => {
        const extra = note();
        if (extra && e instanceof SwerexError) Object.assign(e.extraInfo, extra);
        throw e;
      },
    );
  }

  private runAction(action: BashAction | BashInterruptAction): Promise<BashObservation> {
    if (action.action_type === "bash_interrupt") {
      const target = this.inFlight[0];
      if (target && !target.interrupt) {
        return new Promise<BashObservation>((resolve, reject) => {
          target.interrupt = { action, resolve, reject, served: false };
          target.abort.abort();
        });
      }
      return this.queue.run(async () => {
        this.assertUsable();
        return await this.interrupt(action).catch((e: unknown) => {
          throw this.translate(e);
        });
      });
    }
    // Registered now, not when its turn comes: an interrupt sent right after must find it.
    const current: Running = { abort: new Cancellation() };
    this.inFlight.push(current);
    return this.queue.run(async () => {
      try {
        this.assertUsable();
        if (action.is_interactive_command || action.is_interactive_quit)
          return await this.runInteractive(action, current.abort);
        return this.checked(action, await this.runNormal(action, current.abort));
      } catch (e) {
        if (e instanceof ExpectAborted && current.interrupt) {
          // One event-loop turn reads what the pty already holds: output from before the interrupt came.
          await new Promise((r) => setImmediate(r));
          const partial = cleanOutput(this.term.take());
          const failed = await this.serveInterrupt(current.interrupt);
          if (failed) throw failed;
          return this.checked(action, interrupted(partial));
        }
        throw this.translate(e);
      } finally {
        this.inFlight.splice(this.inFlight.indexOf(current), 1);
        // An interrupt that came too late to stop the command (it had just ended) still gets its turn.
        if (current.interrupt && !current.interrupt.served) await this.serveInterrupt(current.interrupt);
      }
    });
  }

  /** Carries out an interrupt that bypassed the queue; returns its error (already passed on), if any. */
  private async serveInterrupt(p: PendingInterrupt): Promise<unknown> {
    p.served = true;
    try {
      p.resolve(await this.interrupt(p.action));
      return undefined;
    } catch (e) {
      const err = this.translate(e);
      p.reject(err);
      return err;
    }
  }

  /** `check: raise`: a non-zero exit code becomes upstream's `NonZeroExitCodeError`. */
  private checked(action: BashAction, r: BashObservation): BashObservation {
    if (action.check === "ignore") return { ...r, exit_code: null };
    if (action.check === "raise" && r.exit_code !== null && r.exit_code !== 0) {
      let msg = `Command ${pyRepr(action.command)} failed with exit code ${r.exit_code}. Here is the output:\n${pyRepr(r.output)}`;
      if (action.error_msg) msg = `${action.error_msg}: ${msg}`;
      throw new NonZeroExitCodeError(msg, { extraInfo: { output: r.output, exit_code: r.exit_code } });
    }
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.kill();
  }

  private assertUsable(): void {
    if (this.closed) throw new SwerexError(`session ${pyRepr(this.name)} is closed`);
    const exit = this.term.exitInfo;
    if (exit) {
      throw new PexpectEOFError(
        `End Of File (EOF): the shell of session ${pyRepr(this.name)} has exited (exit code ${exit.exitCode})`,
      );
    }
  }

  /** Maps the pty layer's EOF to pexpect's, with what the shell printed last. */
  private translate(e: unknown): unknown {
    if (e instanceof ExpectEOF) {
      const output = cleanOutput(e.before);
      return new PexpectEOFError(
        `End Of File (EOF): the shell of session ${pyRepr(this.name)} exited (exit code ${e.exitCode}). Last output: ${pyRepr(output)}`,
        { extraInfo: { output } },
      );
    }
    return e;
  }

  /**
   * Waits for one of `patterns` within the action's timeout. On a timeout the command keeps running (the caller
   * interrupts it) and what it printed so far goes with the error.
   */
  private async expectOrTimeout(
    action: BashAction,
    patterns: Pattern[],
    cancel: Cancellation,
  ): Promise<ExpectResult> {
    try {
      return await this.term.expect(patterns, seconds(action.timeout), cancel);
    } catch (e) {
      if (!(e instanceof ExpectTimeout)) throw e;
      // The caller interrupts next (upstream's protocol); the command then reports 130 at a prompt.
      this.lastStatus = INTERRUPTED_EXIT_CODE;
      const t = action.timeout === null ? "None" : pyFloat(action.timeout);
      throw new CommandTimeoutError(
        `timeout after ${t} seconds while running command ${pyRepr(action.command)}`,
        {
          extraInfo: { output: cleanOutput(this.term.take()) },
        },
      );
    }
  }

  /**
   * One pty round trip per command: the shell gets one line that checks the command with `bash -n` (unless
   * it is plain words, see bash-plain.ts), sources it, and prints an end marker with `$?`, or, when the
   * check fails, a distinct marker with `bash -n`'s exit code. The check is forked by the session's small
   * shell rather than by this (large) process, which is what makes it cheap. `bash -n` reads the command
   * on stdin under the name `bash`, so its diagnostics match upstream's `bash -n << EOF` exactly.
   */
  private async runNormal(action: BashAction, cancel: Cancellation): Promise<BashObservation> {
    const id = nonce();
    // A command that did not finish may have left a line naming the file in the terminal's input.
    if (this.cmdFileInUse) this.cmdFile.rotate();
    this.cmdFileInUse = true;
    const file = this.cmdFile.path;
    await this.cmdFile.write(`${action.command}\n`);
    if (cancel.aborted) throw new ExpectAborted("");
    const end = () => new PrefixedMarker(`SWEREX_END_${id}:`, /(\d+)\r?\n/y);
    // Kept short (readline reads it byte by byte, ~3 µs of shell CPU each). The helper (command-file.ts)
    // hides our parts from `set -x` and gives the command the previous `$?`; `eval` at top level makes a
    // `return` an error as at a prompt (`source` would end the command silently). `$(<f)` does not fork;
    // the `$'\n'` restores the newline it strips (a final `\` or heredoc line needs it). The marker is
    // printed in pieces, so no trace of the line can contain it.
    const h = shWord(this.cmdFile.helperPath);
    const run =
      `builtin eval -- "{ builtin . ${h} r ${this.lastStatus};} 2>/dev/null;$(<${shWord(file)})"$'\\n';` +
      `{ builtin printf '%s%s:%s\\n' SWEREX _END_${id} $?;} 2>/dev/null`;
    const plain = isPlainBashCommand(action.command);
    const outFile = join(this.workDir, "o");
    const errFile = join(this.workDir, "e");
    // The leading space keeps our line out of the history where HISTCONTROL ignores spaces (Debian's default).
    // BASH_ENV/ENV are cleared so that a file the user exported there is not sourced by every check.
    const off = `{ builtin . ${h} o $-;} 2>/dev/null;`;
    this.term.write(
      plain
        ? ` ${off}${run}\n`
        : ` ${off}if (BASH_ENV= ENV= builtin exec -a bash ${shWord(this.bash)} -n) <${shWord(file)} >${shWord(outFile)} 2>${shWord(errFile)};` +
            `then ${run};else { builtin echo SWEREX"_BAD_${id}:$?";builtin . ${h} r 2;} 2>/dev/null;fi\n`,
    );

    const bad = new PrefixedMarker(`SWEREX_BAD_${id}:`, /(\d+)\r?\n/y);
    const patterns: Pattern[] = [...action.expect.map((p) => new UserRegex(p)), end(), bad];
    const r = await this.expectOrTimeout(action, patterns, cancel);
    if (r.index === patterns.length - 1) {
      await this.promptAfterMarker(PROMPT_AFTER_MARKER_MS);
      this.cmdFileInUse = false;
      // What `$?` is after a syntax error at a prompt.
      this.lastStatus = SYNTAX_ERROR_STATUS;
      const [stdout, stderr] = await Promise.all([outFile, errFile].map(readCheckOutput));
      throw bashSyntaxError(
        action.command,
        Number.parseInt(r.groups[0] ?? "", 10),
        stdout ?? "",
        stderr ?? "",
      );
    }
    const isEnd = r.index === patterns.length - 2;
    let output = cleanOutput(r.before);
    let exitCode: number | null = null;
    let finished = isEnd;
    if (isEnd) {
      exitCode = Number.parseInt(r.groups[0] ?? "", 10);
    } else {
      // A caller's pattern came first; if the command has finished anyway, its exit code is already here.
      const done = this.term.takeIfPresent(end());
      if (done) {
        output += cleanOutput(done.before);
        exitCode = Number.parseInt(done.groups[0] ?? "", 10);
        finished = true;
      }
    }
    if (finished) {
      output += await this.promptAfterMarker(PROMPT_AFTER_MARKER_MS);
      this.cmdFileInUse = false;
      if (exitCode !== null) this.lastStatus = exitCode;
    }
    return {
      output,
      exit_code: action.check === "ignore" ? null : exitCode,
      failure_reason: "",
      expect_string: this.expectString(action.expect, r),
      session_type: "bash",
    };
  }

  private async runInteractive(action: BashAction, cancel: Cancellation): Promise<BashObservation> {
    this.term.write(`${action.command}\n`);
    const patterns: Pattern[] = [...action.expect.map((p) => new UserRegex(p)), new Literal(PS1)];
    const r = await this.expectOrTimeout(action, patterns, cancel);
    let output = cleanOutput(r.before);
    if (action.is_interactive_quit) {
      // The program may have left echo on; turn it off and drop every prompt it left behind.
      await this.sync("stty -echo;");
    } else {
      output = output.trimStart();
      if (output.startsWith(action.command)) output = output.slice(action.command.length);
      output = output.trim();
    }
    return {
      output,
      exit_code: 0,
      failure_reason: "",
      expect_string: this.expectString(action.expect, r),
      session_type: "bash",
    };
  }

  private async interrupt(action: BashInterruptAction): Promise<BashObservation> {
    // Ctrl-C at a prompt, or into a running command, leaves `$?` at 130; so does the Ctrl-Z + kill fallback.
    this.lastStatus = INTERRUPTED_EXIT_CODE;
    const patterns = () => [...action.expect.map((p) => new UserRegex(p)), new Literal(PS1)];
    const timeoutMs = seconds(action.timeout) ?? 0;
    for (let attempt = 0; attempt < action.n_retry; attempt++) {
      this.term.write("\x03");
      try {
        const r = await this.term.expect(patterns(), timeoutMs);
        return await this.afterInterrupt(action, r, cleanOutput(r.before));
      } catch (e) {
        if (!(e instanceof ExpectTimeout)) throw e;
        await sleep(INTERRUPT_PAUSE_MS);
      }
    }
    // Ctrl-C did not do it (a pager, a REPL): stop the foreground job and kill it. `%+` is the job just
    // stopped; upstream's `%1` hits an older background job instead, when there is one.
    try {
      this.term.write("\x1a");
      const stopped = await this.term.expect(patterns(), timeoutMs);
      this.term.write(" kill -9 %+\n");
      const killed = await this.term.expect(patterns(), timeoutMs);
      return await this.afterInterrupt(
        action,
        killed,
        cleanOutput(stopped.before) + cleanOutput(killed.before),
      );
    } catch (e) {
      if (e instanceof ExpectTimeout) {
        throw new PexpectTimeoutError("Failed to interrupt session", {
          extraInfo: { output: cleanOutput(e.before) },
        });
      }
      throw e;
    }
  }

  /** Collects what follows an interrupt, so the next command's output starts clean. */
  private async afterInterrupt(
    action: BashInterruptAction,
    r: ExpectResult,
    output: string,
  ): Promise<BashObservation> {
    const atPrompt = r.index === action.expect.length;
    if (atPrompt) {
      output += await this.sync("");
    } else {
      // Stopped at a caller's pattern: some program still owns the terminal, so no shell line can be sent.
      await sleep(DRAIN_MS);
      output += cleanOutput(this.term.take());
    }
    return {
      output: output.trim(),
      exit_code: 0,
      failure_reason: "",
      expect_string: this.expectString(action.expect, r),
      session_type: "bash",
    };
  }

  /**
   * Sends `prefix` plus a sync marker and consumes everything up to it and the prompt after it: stray
   * prompts, job notices ("[1]+ Killed ..."), late output. Returns that text, cleaned.
   */
  private async sync(prefix: string): Promise<string> {
    const id = nonce();
    // Grouped with stderr to /dev/null: under `set -x` the trace of our own line must not show.
    this.term.write(` { ${prefix} ${printMarker(`SYNC_${id}`)};} 2>/dev/null\n`);
    try {
      const r = await this.term.expect([lineMarker(`SYNC_${id}`)], SYNC_MS);
      await this.promptAfterMarker(PROMPT_AFTER_MARKER_MS);
      return cleanOutput(r.before);
    } catch (e) {
      if (e instanceof ExpectTimeout) {
        throw new PexpectTimeoutError(
          `session ${pyRepr(this.name)} did not return to its prompt within ${SYNC_MS / 1000} seconds`,
          { extraInfo: { output: cleanOutput(e.before) } },
        );
      }
      throw e;
    }
  }

  /**
   * Consumes the prompt bash prints after a marker, and returns what came between the two: output of
   * background jobs that landed there (it belongs to this action, and must not be lost), without bash's
   * own job notices ("[1]+  Done  ..."), which are not output. Missing the prompt is harmless: stray
   * prompts are stripped later.
   */
  private async promptAfterMarker(timeoutMs: number): Promise<string> {
    try {
      const r = await this.term.expect([new Literal(PS1)], timeoutMs);
      return cleanOutput(r.before).replace(JOB_NOTICE, "");
    } catch (e) {
      if (!(e instanceof ExpectTimeout)) throw e;
      this.logger?.debug({ session: this.name }, "no prompt after marker (PS1 changed?)");
      return "";
    }
  }

  private expectString(expect: string[], r: ExpectResult): string {
    return r.index < expect.length ? (expect[r.index] as string) : PS1;
  }

  /**
   * Hangs up the shell (bash passes SIGHUP on to its jobs), then kills whatever is left of its terminal
   * session (jobs that ignored the hang-up, nohup'd ones, the shell itself), and removes the command files.
   */
  private async kill(): Promise<void> {
    const sid = this.term.pty.pid;
    if (this.term.isAlive) {
      try {
        this.term.pty.kill("SIGHUP");
      } catch {
        // already gone
      }
      await this.term.waitExit(CLOSE_GRACE_MS);
    }
    await killSession(sid);
    if (this.term.isAlive) {
      try {
        this.term.pty.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.term.waitExit(CLOSE_GRACE_MS);
    }
    this.cmdFile.close();
    await rm(this.workDir, { recursive: true, force: true });
  }
}

/** What an interrupted command returns (before `check` applies): its output so far and exit code 130. */
function interrupted(output: string): BashObservation {
  return {
    output,
    exit_code: INTERRUPTED_EXIT_CODE,
    failure_reason: "interrupted by a bash_interrupt action",
    expect_string: "",
    session_type: "bash",
  };
}

/** What `bash -n` wrote to one of its output files, decoded as upstream decodes it. */
async function readCheckOutput(path: string): Promise<string> {
  try {
    return decodeBytes(await readFile(path), "utf-8", "backslashreplace");
  } catch {
    return "";
  }
}
