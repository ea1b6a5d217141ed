/**
 * pexpect's `expect()` over a node-pty: output accumulates in a buffer; `expect(patterns, timeout)` resolves
 * with the earliest match (ties go to the pattern listed first), the text before it, and consumes both.
 */
import type { IPty } from "node-pty";
import { PythonValueError } from "../errors.js";
import { startTimer, type Timer } from "../timer.js";
import { StreamingUtf8Decoder } from "./codec.js";

export interface Match {
  start: number;
  end: number;
  /** Capture groups of the match (regex patterns), or parsed values (markers). */
  groups: string[];
}

/**
 * Output not consumed yet, as a list of chunks: appending is O(1) and searching the newest text does not
 * copy the whole buffer (a flat string rebuilt on every chunk makes a large output quadratic).
 */
export class TextBuffer {
  private parts: string[] = [];
  length = 0;

  append(s: string): void {
    if (!s) return;
    this.parts.push(s);
    this.length += s.length;
  }

  /** The text from `from` to the end; costs the size of that tail, not of the buffer. */
  tail(from: number): string {
    if (from <= 0) return this.toString();
    let covered = 0;
    let i = this.parts.length;
    while (i > 0 && covered < this.length - from) covered += (this.parts[--i] as string).length;
    const joined = this.parts.slice(i).join("");
    return joined.slice(joined.length - (this.length - from));
  }

  toString(): string {
    if (this.parts.length > 1) this.parts = [this.parts.join("")];
    return this.parts[0] ?? "";
  }

  /** Removes and returns the first `n` characters. */
  shift(n: number): string {
    const all = this.toString();
    const head = all.slice(0, n);
    const rest = all.slice(n);
    this.parts = rest ? [rest] : [];
    this.length = rest.length;
    return head;
  }
}

/** A pattern to look for. Instances may keep search state, so make a fresh one for every `expect`. */
export interface Pattern {
  find(buf: TextBuffer): Match | null;
}

/** A fixed string, searched incrementally: text already scanned is not scanned again. */
export class Literal implements Pattern {
  private next = 0;
  constructor(private readonly text: string) {}

  find(buf: TextBuffer): Match | null {
    const from = Math.min(this.next, buf.length);
    const i = buf.tail(from).indexOf(this.text);
    if (i < 0) {
      this.next = Math.max(this.next, buf.length - this.text.length + 1);
      return null;
    }
    return { start: from + i, end: from + i + this.text.length, groups: [] };
  }
}

/** A fixed prefix followed by a sticky regex tail (e.g. `MARK:<digits>\r\n`); the tail's groups are returned. */
export class PrefixedMarker implements Pattern {
  private readonly prefix: Literal;
  constructor(
    prefix: string,
    private readonly tail: RegExp,
  ) {
    this.prefix = new Literal(prefix);
    if (!tail.sticky) throw new Error("PrefixedMarker tail must be sticky");
  }

  find(buf: TextBuffer): Match | null {
    const p = this.prefix.find(buf);
    if (!p) return null;
    this.tail.lastIndex = 0;
    const m = this.tail.exec(buf.tail(p.end));
    // Prefix seen but the tail has not fully arrived: look here again next time.
    if (!m) return null;
    return { start: p.start, end: p.end + m[0].length, groups: m.slice(1) };
  }
}

/**
 * A caller's pattern: a regex, as pexpect reads `expect` strings (its `re.DOTALL` becomes the `s` flag).
 * Python-only syntax such as `(?P<name>...)` is translated; anything JS rejects is a `ValueError`.
 */
export class UserRegex implements Pattern {
  private readonly re: RegExp;
  constructor(readonly source: string) {
    try {
      this.re = new RegExp(source.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>"), "s");
    } catch (e) {
      throw new PythonValueError(`invalid expect pattern ${JSON.stringify(source)}: ${(e as Error).message}`);
    }
  }

  /** Searches the whole buffer each time, as pexpect does without a search window. */
  find(buf: TextBuffer): Match | null {
    const m = this.re.exec(buf.toString());
    return m ? { start: m.index, end: m.index + m[0].length, groups: m.slice(1).map((g) => g ?? "") } : null;
  }
}

export interface ExpectResult {
  index: number;
  before: string;
  matched: string;
  groups: string[];
}

/** `expect` ran out of time; `before` is everything buffered (not consumed). */
export class ExpectTimeout extends Error {
  constructor(readonly before: string) {
    super("expect timed out");
  }
}

/** The caller's AbortSignal fired (an interrupt took over the terminal); `before` is everything buffered. */
export class ExpectAborted extends Error {
  constructor(readonly before: string) {
    super("expect aborted");
  }
}

/** The process behind the pty exited; `before` is everything it printed that nobody consumed. */
export class ExpectEOF extends Error {
  constructor(
    readonly before: string,
    readonly exitCode: number,
    readonly signal: number | undefined,
  ) {
    super(`process exited (exit code ${exitCode}${signal ? `, signal ${signal}` : ""})`);
  }
}

/**
 * What an interrupt uses to take the terminal from a running `expect`. An AbortController would do, but
 * creating one and adding and removing its listener cost more per command than the rest of `expect`.
 */
export class Cancellation {
  aborted = false;
  private listener: (() => void) | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const l = this.listener;
    this.listener = undefined;
    l?.();
  }

  /** The one function `abort()` calls (an expect in progress); undefined removes it. */
  setListener(fn: (() => void) | undefined): void {
    this.listener = fn;
  }
}

interface Waiter {
  patterns: Pattern[];
  resolve(r: ExpectResult): void;
  reject(e: Error): void;
}

/** Output kept while nobody waits is capped, so a chatty background job cannot eat the server's memory. */
const MAX_BUFFER_CHARS = 64 * 1024 * 1024;

export class PtyExpect {
  private readonly buf = new TextBuffer();
  private waiter: Waiter | undefined;
  private readonly decoder = new StreamingUtf8Decoder();
  private exit: { exitCode: number; signal: number | undefined } | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly pty: IPty) {
    pty.onData((data: string | Buffer) => {
      const text = typeof data === "string" ? data : this.decoder.write(data);
      this.append(text);
    });
    this.exited = new Promise((resolve) => {
      pty.onExit(({ exitCode, signal }) => {
        this.append(this.decoder.end());
        this.exit = { exitCode, signal };
        const w = this.waiter;
        this.waiter = undefined;
        w?.reject(new ExpectEOF(this.buf.toString(), exitCode, signal));
        resolve();
      });
    });
  }

  get isAlive(): boolean {
    return this.exit === undefined;
  }

  get exitInfo(): { exitCode: number; signal: number | undefined } | undefined {
    return this.exit;
  }

  write(data: string): void {
    if (this.exit) return;
    this.pty.write(data);
  }

  /** Everything buffered, consumed. */
  take(): string {
    return this.buf.shift(this.buf.length);
  }

  /** Everything buffered, not consumed. */
  peek(): string {
    return this.buf.toString();
  }

  /** Finds a pattern in what is already buffered and consumes through it, without waiting. */
  takeIfPresent(pattern: Pattern): ExpectResult | null {
    const m = pattern.find(this.buf);
    if (!m) return null;
    return this.consume(0, m);
  }

  /**
   * Waits for the earliest match of any pattern; `timeoutMs` null waits as long as the process lives.
   * `cancel` ends the wait early with `ExpectAborted` (nothing is consumed).
   */
  expect(patterns: Pattern[], timeoutMs: number | null, cancel?: Cancellation): Promise<ExpectResult> {
    if (this.waiter) return Promise.reject(new Error("concurrent expect on one pty"));
    // Often the text is already here (the prompt arrives with the marker before it): no timer, no listener.
    const now = this.match(patterns);
    if (now) return Promise.resolve(now);
    return new Promise<ExpectResult>((resolve, reject) => {
      let timer: Timer | undefined;
      const onAbort = () => this.waiter?.reject(new ExpectAborted(this.buf.toString()));
      const done = () => {
        timer?.cancel();
        cancel?.setListener(undefined);
        this.waiter = undefined;
      };
      this.waiter = {
        patterns,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (timeoutMs !== null) {
        timer = startTimer(timeoutMs, () => this.waiter?.reject(new ExpectTimeout(this.buf.toString())));
      }
      cancel?.setListener(onAbort);
      if (this.exit) {
        this.waiter?.reject(new ExpectEOF(this.buf.toString(), this.exit.exitCode, this.exit.signal));
      } else if (cancel?.aborted) {
        onAbort();
      }
    });
  }

  /** Resolves when the process has exited, or after `timeoutMs`; true if it exited. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: Timer | undefined;
    const timeout = new Promise<boolean>((r) => {
      timer = startTimer(timeoutMs, () => r(false));
    });
    try {
      return await Promise.race([this.exited.then(() => true), timeout]);
    } finally {
      timer?.cancel();
    }
  }

  private append(text: string): void {
    if (!text) return;
    this.buf.append(text);
    if (!this.waiter && this.buf.length > MAX_BUFFER_CHARS)
      this.buf.shift(this.buf.length - MAX_BUFFER_CHARS);
    this.check();
  }

  private check(): boolean {
    const w = this.waiter;
    if (!w) return false;
    const r = this.match(w.patterns);
    if (!r) return false;
    w.resolve(r);
    return true;
  }

  /** The earliest match of any pattern in the buffer, consumed; ties go to the pattern listed first. */
  private match(patterns: Pattern[]): ExpectResult | null {
    let bestIndex = -1;
    let best: Match | null = null;
    for (let index = 0; index < patterns.length; index++) {
      const m = (patterns[index] as Pattern).find(this.buf);
      if (m && (!best || m.start < best.start)) {
        best = m;
        bestIndex = index;
      }
    }
    return best ? this.consume(bestIndex, best) : null;
  }

  private consume(index: number, m: Match): ExpectResult {
    const upToEnd = this.buf.shift(m.end);
    return { index, before: upToEnd.slice(0, m.start), matched: upToEnd.slice(m.start), groups: m.groups };
  }
}
