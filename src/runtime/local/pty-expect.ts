/**
 * pexpect's `expect()` over a node-pty: output accumulates in a buffer; `expect(patterns, timeout)` resolves
 * with the earliest match (ties go to the pattern listed first), the text before it, and consumes both.
 */
import type { IPty } from "node-pty";
import { PythonValueError } from "../errors.js";
import { startTimer, type Timer } from "../timer.js";
import { StreamingUtf8Decoder } from "./codec.js";
import { type RegexSearch, RegexSearchCancelled, searchRegexes } from "./regex-worker.js";

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

  /**
   * Removes and returns the first `n` characters. Costs the parts it takes, not the whole buffer: the
   * output bound drops a chunk from the front on every append once a command prints more than it keeps.
   */
  shift(n: number): string {
    const taken: string[] = [];
    let need = Math.min(Math.max(0, n), this.length);
    let i = 0;
    while (need > 0 && i < this.parts.length) {
      const part = this.parts[i] as string;
      if (part.length <= need) {
        taken.push(part);
        need -= part.length;
        i++;
      } else {
        taken.push(part.slice(0, need));
        this.parts[i] = part.slice(need);
        need = 0;
      }
    }
    this.parts = this.parts.slice(i);
    const head = taken.join("");
    this.length -= head.length;
    return head;
  }
}

/** A pattern to look for. Instances may keep search state, so make a fresh one for every `expect`. */
export interface Pattern {
  find(buf: TextBuffer): Match | null;
  /** The first `n` characters of the buffer were removed (the output bound): move search state back. */
  rebase?(n: number): void;
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

  rebase(n: number): void {
    this.next = Math.max(0, this.next - n);
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

  rebase(n: number): void {
    this.prefix.rebase(n);
  }
}

/**
 * A caller's pattern: a regex, as pexpect reads `expect` strings (its `re.DOTALL` becomes the `s` flag).
 * Python-only syntax such as `(?P<name>...)` is translated; anything JS rejects is a `ValueError`.
 */
export class UserRegex implements Pattern {
  private readonly re: RegExp;
  /** The pattern in JS syntax (what the regex worker compiles). */
  readonly jsSource: string;
  constructor(readonly source: string) {
    try {
      this.jsSource = source.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
      this.re = new RegExp(this.jsSource, "s");
    } catch (e) {
      throw new PythonValueError(`invalid expect pattern ${JSON.stringify(source)}: ${(e as Error).message}`);
    }
  }

  /**
   * Searches the whole buffer each time, as pexpect does without a search window. On the calling thread:
   * `PtyExpect` never calls this, it searches caller patterns in a worker (regex-worker.ts).
   */
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
  /** The caller's regexes, searched in a worker; empty when every pattern is ours (searched here). */
  regexes: UserRegex[];
  /** The worker search in flight, if any. */
  search?: RegexSearch;
  /** Output arrived while a search ran: search again when it ends. */
  rescan?: boolean;
}

/** A caller regex search that has not finished by then fails the action (the command keeps running). */
export const REGEX_DEADLINE_MS = 10_000;

/** Default bound on the output kept per command (characters): head and tail, the middle is dropped. */
export const DEFAULT_MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

export interface PtyExpectOptions {
  /**
   * Most characters of output kept between two matches (one command's output): the first and last halves
   * are kept, the middle is dropped and replaced by a note. The pty is always read, so the program never
   * blocks on a full terminal; memory stays bounded whatever it prints.
   */
  maxOutputChars?: number;
}

/** The text put where output was dropped (`unit`: "characters" for a terminal, "bytes" for `execute`). */
export function truncationNote(dropped: number, limit: number, unit = "characters"): string {
  return `\n[... ${dropped} ${unit} of output omitted: only the first and last ${Math.floor(limit / 2)} are kept (max_output=${limit}) ...]\n`;
}

export class PtyExpect {
  private readonly buf = new TextBuffer();
  private readonly maxOutputChars: number;
  /** The start of the current output, kept while its middle is dropped; "" until the bound is first hit. */
  private head = "";
  /** Characters dropped from the current output (between head and buffer). */
  private dropped = 0;
  /** Characters dropped since this terminal started: callers compare it before and after an action. */
  droppedTotal = 0;
  /** Bumped whenever text leaves the front of the buffer: match positions from before are stale. */
  private epoch = 0;
  private waiter: Waiter | undefined;
  private readonly decoder = new StreamingUtf8Decoder();
  private exit: { exitCode: number; signal: number | undefined } | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly pty: IPty,
    opts: PtyExpectOptions = {},
  ) {
    this.maxOutputChars = Math.max(2, opts.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS);
    pty.onData((data: string | Buffer) => {
      const text = typeof data === "string" ? data : this.decoder.write(data);
      this.append(text);
    });
    this.exited = new Promise((resolve) => {
      pty.onExit(({ exitCode, signal }) => {
        this.append(this.decoder.end());
        this.exit = { exitCode, signal };
        const w = this.waiter;
        if (w && w.regexes.length > 0) {
          // The caller's regexes get a last look at the final output; the scan ends in EOF otherwise.
          this.scan(w);
        } else {
          this.waiter = undefined;
          w?.reject(new ExpectEOF(this.unconsumed(), exitCode, signal));
        }
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

  /** Everything buffered, consumed (with the truncation note if output was dropped). */
  take(): string {
    this.epoch++;
    return this.withHead(this.buf.shift(this.buf.length));
  }

  /** Everything buffered, not consumed. */
  peek(): string {
    return this.unconsumed();
  }

  /** What is buffered, with the kept head and the truncation note in front when output was dropped. */
  private unconsumed(): string {
    return `${this.head}${this.note()}${this.buf.toString()}`;
  }

  private note(): string {
    return this.dropped === 0 ? "" : truncationNote(this.dropped, this.maxOutputChars);
  }

  /** Puts the kept head and the note before `text` (the consumed start of the buffer), and starts afresh. */
  private withHead(text: string): string {
    if (this.head === "") return text;
    const out = `${this.head}${this.note()}${text}`;
    this.head = "";
    this.dropped = 0;
    return out;
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
    const regexes = patterns.filter((p): p is UserRegex => p instanceof UserRegex);
    // Often the text is already here (the prompt arrives with the marker before it): no timer, no listener.
    const now = regexes.length === 0 ? this.match(patterns) : null;
    if (now) return Promise.resolve(now);
    return new Promise<ExpectResult>((resolve, reject) => {
      let timer: Timer | undefined;
      const onAbort = () => this.waiter?.reject(new ExpectAborted(this.unconsumed()));
      const done = () => {
        timer?.cancel();
        cancel?.setListener(undefined);
        this.waiter?.search?.cancel();
        this.waiter = undefined;
      };
      this.waiter = {
        patterns,
        regexes,
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
        timer = startTimer(timeoutMs, () => this.waiter?.reject(new ExpectTimeout(this.unconsumed())));
      }
      cancel?.setListener(onAbort);
      if (this.exit && regexes.length === 0) {
        this.waiter?.reject(new ExpectEOF(this.unconsumed(), this.exit.exitCode, this.exit.signal));
      } else if (cancel?.aborted) {
        onAbort();
      } else if (regexes.length > 0) {
        this.check();
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
    this.bound();
    this.check();
  }

  /**
   * Keeps the output within `maxOutputChars`: the first half is set aside as the head (once per output),
   * then the buffer keeps only the newest half. A waiter's patterns are told how far the text moved.
   */
  private bound(): void {
    if (this.head.length + this.buf.length <= this.maxOutputChars) return;
    const half = Math.floor(this.maxOutputChars / 2);
    let moved = 0;
    if (this.head === "") {
      this.head = this.buf.shift(half);
      moved += half;
    }
    const keep = this.maxOutputChars - this.head.length;
    const drop = this.buf.length - keep;
    if (drop > 0) {
      this.buf.shift(drop);
      this.dropped += drop;
      this.droppedTotal += drop;
      moved += drop;
    }
    this.epoch++;
    for (const p of this.waiter?.patterns ?? []) p.rebase?.(moved);
  }

  private check(): boolean {
    const w = this.waiter;
    if (!w) return false;
    if (w.regexes.length > 0) {
      this.scan(w);
      return false;
    }
    const r = this.match(w.patterns);
    if (!r) return false;
    w.resolve(r);
    return true;
  }

  /**
   * Searches the buffer for a waiter with caller regexes: they run in a worker on a snapshot, our own
   * patterns here; the earliest match wins as in `match`. Output arriving meanwhile triggers one more
   * search when this one ends. A match of ours that reaches past the snapshot waits for that search
   * (a regex might match earlier in the new text). When the process has exited and nothing matched,
   * the waiter gets its EOF.
   */
  private scan(w: Waiter): void {
    if (w.search) {
      w.rescan = true;
      return;
    }
    w.rescan = false;
    const epoch = this.epoch;
    const length = this.buf.length;
    const search = searchRegexes(
      w.regexes.map((r) => r.jsSource),
      this.buf.toString(),
      REGEX_DEADLINE_MS,
    );
    w.search = search;
    search.result.then(
      (hits) => {
        if (this.waiter !== w) return;
        w.search = undefined;
        if (epoch !== this.epoch) return this.scan(w);
        let k = 0;
        let best: Match | null = null;
        let bestIndex = -1;
        let bestIsOurs = false;
        for (let index = 0; index < w.patterns.length; index++) {
          const p = w.patterns[index] as Pattern;
          const ours = !(p instanceof UserRegex);
          const m = ours ? p.find(this.buf) : (hits[k++] ?? null);
          if (m && (!best || m.start < best.start)) {
            best = m;
            bestIndex = index;
            bestIsOurs = ours;
          }
        }
        if (best && !(bestIsOurs && best.end > length)) return w.resolve(this.consume(bestIndex, best));
        if (w.rescan || this.buf.length !== length || best) return this.scan(w);
        if (this.exit) w.reject(new ExpectEOF(this.unconsumed(), this.exit.exitCode, this.exit.signal));
      },
      (err: unknown) => {
        if (this.waiter !== w || err instanceof RegexSearchCancelled) return;
        w.search = undefined;
        w.reject(err as Error);
      },
    );
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
    this.epoch++;
    const upToEnd = this.buf.shift(m.end);
    return {
      index,
      before: this.withHead(upToEnd.slice(0, m.start)),
      matched: upToEnd.slice(m.start),
      groups: m.groups,
    };
  }
}
