/**
 * A provably-sound shortcut past the `bash -n` check: a command made only of plain words cannot be a syntax
 * error, so checking it would only cost a process. "Plain" is deliberately narrow: letters, digits and
 * `_ . / = : , @ % + - $`, separated by spaces and newlines, and no word that bash reserves. Everything that
 * can open a construct bash must close (quotes, brackets, braces, parentheses, redirections, `|`, `&`, `;`,
 * backslashes, `#`, tabs, non-ASCII) takes the full check. `$` is safe here because the characters that can
 * follow it into a construct (`{`, `(`, `[`, quotes) are all excluded.
 */

const PLAIN = /^[A-Za-z0-9_./=:,@%+$ \n-]*$/;

/** bash's reserved words (`compgen -k`); the ones made of symbols (`!`, `{`, `}`, `[[`, `]]`) fail PLAIN. */
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
  if (!PLAIN.test(command)) return false;
  for (const word of command.split(/[ \n]+/)) if (RESERVED.has(word)) return false;
  return true;
}
