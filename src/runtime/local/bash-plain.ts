/**
 * A provably-sound shortcut past the `bash -n` check: a command made only of plain words cannot be a syntax
 * error, so checking it would only cost a process. "Plain" is deliberately narrow. Outside quotes: letters,
 * digits and `_ . / = : , @ % + - $`, separated by spaces and newlines. Single-quoted strings may hold
 * anything but a quote (bash takes everything inside literally), as long as every one is closed. No
 * unquoted word may be a reserved word. Everything else that can open a construct bash must close (double
 * quotes, brackets, braces, parentheses, redirections, `|`, `&`, `;`, backslashes, `#`, tabs, non-ASCII)
 * takes the full check. `$` is safe because what can follow it into a construct (`{`, `(`, `[`, `"`) is
 * excluded, and `$'` (ANSI-C quoting, where `\'` does not end the string) is refused explicitly.
 */

const PLAIN_CHAR = /[A-Za-z0-9_./=:,@%+$-]/;

/** bash's reserved words (`compgen -k`); the ones made of symbols (`!`, `{`, `}`, `[[`, `]]`) are not PLAIN_CHAR. */
const RESERVED = new Set([
  "case",
  "coproc",
  "do",
  "done",
  "elif",
  "else",
  "esac",
  "fi",
  "for",
  "function",
  "if",
  "in",
  "select",
  "then",
  "time",
  "until",
  "while",
]);

/** True only for commands `bash -n` is certain to accept; false means "check it", not "invalid". */
export function isPlainBashCommand(command: string): boolean {
  let word = "";
  let quoted = false;
  const wordOk = () => quoted || !RESERVED.has(word);
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (c === " " || c === "\n") {
      if (!wordOk()) return false;
      word = "";
      quoted = false;
    } else if (c === "'") {
      if (command[i - 1] === "$") return false;
      const close = command.indexOf("'", i + 1);
      if (close < 0) return false;
      if (command.slice(i + 1, close).includes("\0")) return false;
      i = close;
      quoted = true;
    } else if (PLAIN_CHAR.test(c)) {
      word += c;
    } else {
      return false;
    }
  }
  return wordOk();
}
