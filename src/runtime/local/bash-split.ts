/**
 * Splits bash source into its top-level commands, the way SWE-ReX's `_split_bash_command` (bashlex) does:
 * one entry per complete command, a command spanning every line it needs (heredoc bodies, quoted newlines,
 * escaped newlines, compound commands such as `for ...; do ...; done`). Comments and blank lines are dropped.
 *
 * This is a small lexer, not a parser: it tracks quotes, escapes, `$(...)`, backticks, `${...}`, heredocs
 * and the nesting of `()`, `{}`, `if/fi`, loops and `case/esac`, which is all that deciding "where does a
 * command end" needs. It never throws: text it cannot make sense of stays in the last command.
 */

type Opener = "(" | "{" | "if" | "loop" | "case";

const OPERATORS = [
  ";;&",
  "&>>",
  "<<-",
  "<<<",
  "&&",
  "||",
  ";;",
  ";&",
  "|&",
  "<<",
  ">>",
  "<&",
  ">&",
  ">|",
  "<>",
  "&>",
];
const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const LOOP_WORDS = new Set(["for", "while", "until", "select"]);
/** Words after which the next word is again in command position. */
const PREFIX_KEYWORDS = new Set(["then", "do", "else", "elif", "if", "while", "until", "!", "{", "time"]);
const ASSIGNMENT_PREFIX = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$/;

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
}

interface TopLevelSink {
  /** A token of the top-level list ended at `end` (exclusive); it started at `start`. */
  token(start: number, end: number): void;
  /** A heredoc body (through its delimiter line) ended at `end`. */
  heredoc(end: number): void;
  /** An unescaped newline that is not inside any construct and does not continue the command. */
  boundary(): void;
}

class Lexer {
  private pending: PendingHeredoc[] = [];

  constructor(private readonly src: string) {}

  /**
   * Lexes a command list from `i`. With `closeParen`, stops after the `)` that closes it (a `$(...)` or a
   * process substitution) and returns the index after it; otherwise runs to the end of the input.
   */
  list(i: number, closeParen: boolean, sink?: TopLevelSink): number {
    const src = this.src;
    const stack: Opener[] = [];
    let commandStart = true;
    let continues = false;
    let afterFunctionKeyword = 0;
    let lastTwo: string[] = [];
    const remember = (t: string) => {
      lastTwo = [lastTwo[lastTwo.length - 1] ?? "", t];
    };

    while (i < src.length) {
      const c = src[i] as string;
      if (c === " " || c === "\t") {
        i++;
        continue;
      }
      if (c === "\\" && src[i + 1] === "\n") {
        i += 2;
        continue;
      }
      if (c === "#") {
        while (i < src.length && src[i] !== "\n") i++;
        continue;
      }
      if (c === "\n") {
        i++;
        if (this.pending.length) {
          i = this.readHeredocs(i);
          sink?.heredoc(i > 0 && src[i - 1] === "\n" ? i - 1 : i);
        }
        if (stack.length === 0 && !continues) sink?.boundary();
        commandStart = true;
        continue;
      }
      if (c === ")" && closeParen && stack.length === 0) return i + 1;

      const op = this.operatorAt(i);
      if (op) {
        const start = i;
        i += op.length;
        if (op === "<<" || op === "<<-") {
          i = this.heredocDelimiter(i, op === "<<-");
        } else if ((op === "<" || op === ">") && src[i] === "(") {
          i = this.list(i + 1, true);
        } else if (op === "(") {
          stack.push("(");
        } else if (op === ")") {
          // In a case statement, `)` ends a pattern; it only closes a `(` that we opened.
          if (stack[stack.length - 1] === "(") stack.pop();
        }
        sink?.token(start, i);
        continues =
          ["&&", "||", "|", "|&"].includes(op) || (op === ")" && lastTwo[1] === "(" && stack.length === 0);
        commandStart = !["<", ">", ">>", "<&", ">&", ">|", "<>", "&>", "&>>", "<<<", "<<", "<<-"].includes(
          op,
        );
        remember(op);
        continue;
      }

      const start = i;
      i = this.word(i);
      const word = src.slice(start, i);
      if (commandStart || afterFunctionKeyword === 1) {
        if (word === "{") stack.push("{");
        else if (word === "}" && stack[stack.length - 1] === "{") stack.pop();
        else if (word === "if") stack.push("if");
        else if (word === "fi" && stack[stack.length - 1] === "if") stack.pop();
        else if (LOOP_WORDS.has(word)) stack.push("loop");
        else if (word === "done" && stack[stack.length - 1] === "loop") stack.pop();
        else if (word === "case") stack.push("case");
        else if (word === "esac" && stack[stack.length - 1] === "case") stack.pop();
      }
      afterFunctionKeyword = word === "function" && commandStart ? 2 : Math.max(0, afterFunctionKeyword - 1);
      sink?.token(start, i);
      commandStart = PREFIX_KEYWORDS.has(word) && commandStart;
      continues = false;
      remember(word);
    }
    return i;
  }

  private operatorAt(i: number): string | undefined {
    const c = this.src[i] as string;
    if (!META.has(c) || c === " " || c === "\t" || c === "\n") return undefined;
    for (const op of OPERATORS) if (this.src.startsWith(op, i)) return op;
    return c;
  }

  /** Scans one word (with its quotes and substitutions) from `i`; returns the index after it. */
  private word(i: number): number {
    const src = this.src;
    const start = i;
    while (i < src.length) {
      const c = src[i] as string;
      if (c === "\\") {
        i += 2;
      } else if (c === "'") {
        i = this.singleQuoted(i + 1);
      } else if (c === '"') {
        i = this.doubleQuoted(i + 1);
      } else if (c === "`") {
        i = this.backticks(i + 1);
      } else if (c === "$" && src[i + 1] === "'") {
        i = this.ansiQuoted(i + 2);
      } else if (c === "$" && src[i + 1] === '"') {
        i = this.doubleQuoted(i + 2);
      } else if (c === "$" && src[i + 1] === "(") {
        i = this.dollarParen(i + 2);
      } else if (c === "$" && src[i + 1] === "{") {
        i = this.braces(i + 2);
      } else if (c === "(" && i > start && "?*+@!".includes(src[i - 1] as string)) {
        i = this.balancedParens(i + 1); // extglob
      } else if (c === "(" && ASSIGNMENT_PREFIX.test(src.slice(start, i))) {
        i = this.balancedParens(i + 1); // array assignment
      } else if (META.has(c)) {
        break;
      } else {
        i++;
      }
    }
    return Math.min(i, src.length);
  }

  private singleQuoted(i: number): number {
    const end = this.src.indexOf("'", i);
    return end < 0 ? this.src.length : end + 1;
  }

  private ansiQuoted(i: number): number {
    const src = this.src;
    while (i < src.length && src[i] !== "'") i += src[i] === "\\" ? 2 : 1;
    return i + 1;
  }

  private doubleQuoted(i: number): number {
    const src = this.src;
    while (i < src.length) {
      const c = src[i];
      if (c === '"') return i + 1;
      if (c === "\\") i += 2;
      else if (c === "`") i = this.backticks(i + 1);
      else if (c === "$" && src[i + 1] === "(") i = this.dollarParen(i + 2);
      else if (c === "$" && src[i + 1] === "{") i = this.braces(i + 2);
      else i++;
    }
    return i;
  }

  private backticks(i: number): number {
    const src = this.src;
    while (i < src.length && src[i] !== "`") i += src[i] === "\\" ? 2 : 1;
    return i + 1;
  }

  /** After `$(`: arithmetic `$((...))` or a command substitution. */
  private dollarParen(i: number): number {
    if (this.src[i] === "(") return this.balancedParens(i + 1, 2);
    return this.list(i, true);
  }

  private braces(i: number): number {
    const src = this.src;
    let depth = 1;
    while (i < src.length && depth > 0) {
      const c = src[i] as string;
      if (c === "\\") i += 2;
      else if (c === "'") i = this.singleQuoted(i + 1);
      else if (c === '"') i = this.doubleQuoted(i + 1);
      else if (c === "$" && src[i + 1] === "(") i = this.dollarParen(i + 2);
      else {
        if (c === "{") depth++;
        else if (c === "}") depth--;
        i++;
      }
    }
    return i;
  }

  /** Skips to the `)` that brings the paren depth from `depth` to zero, honouring quotes. */
  private balancedParens(i: number, depth = 1): number {
    const src = this.src;
    while (i < src.length && depth > 0) {
      const c = src[i] as string;
      if (c === "\\") i += 2;
      else if (c === "'") i = this.singleQuoted(i + 1);
      else if (c === '"') i = this.doubleQuoted(i + 1);
      else if (c === "`") i = this.backticks(i + 1);
      else if (c === "$" && src[i + 1] === "(") i = this.dollarParen(i + 2);
      else {
        if (c === "(") depth++;
        else if (c === ")") depth--;
        i++;
      }
    }
    return i;
  }

  /** Reads the delimiter word after `<<`/`<<-` and queues the heredoc; returns the index after the word. */
  private heredocDelimiter(i: number, stripTabs: boolean): number {
    const src = this.src;
    while (src[i] === " " || src[i] === "\t") i++;
    const start = i;
    i = this.word(i);
    const raw = src.slice(start, i);
    // Quote removal: `'EOF'`, `"EOF"`, `\EOF` and `E"O"F` all mean the delimiter EOF.
    const delimiter = raw.replace(/\\(.)/g, "$1").replace(/['"]/g, "");
    if (delimiter) this.pending.push({ delimiter, stripTabs });
    return i;
  }

  /** At the start of the line after a heredoc operator: consumes every queued body through its delimiter. */
  private readHeredocs(i: number): number {
    const src = this.src;
    for (const doc of this.pending) {
      while (i < src.length) {
        const nl = src.indexOf("\n", i);
        const lineEnd = nl < 0 ? src.length : nl;
        let line = src.slice(i, lineEnd);
        if (doc.stripTabs) line = line.replace(/^\t+/, "");
        i = nl < 0 ? src.length : nl + 1;
        if (line === doc.delimiter) break;
      }
    }
    this.pending = [];
    return i;
  }
}

/**
 * The top-level commands of `input`, each sliced from the stripped input (SWE-ReX's `_split_bash_command`).
 * Empty or comment-only input gives `[]`.
 */
export function splitBashCommand(input: string): string[] {
  const src = input.trim();
  if (!src || src.split(/\r?\n/).every((l) => l.trim().startsWith("#"))) return [];
  const commands: string[] = [];
  let start = -1;
  let end = -1;
  const sink: TopLevelSink = {
    token(s, e) {
      if (start < 0) start = s;
      end = Math.max(end, e);
    },
    heredoc(e) {
      if (start >= 0) end = Math.max(end, e);
    },
    boundary() {
      if (start >= 0) commands.push(src.slice(start, end));
      start = -1;
      end = -1;
    },
  };
  new Lexer(src).list(0, false, sink);
  sink.boundary();
  return commands;
}
