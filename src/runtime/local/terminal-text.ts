/** Turning raw pty bytes-as-text into what SWE-ReX reports as command output. */

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is exactly what this pattern is about.
const ANSI_ESCAPE = /\x1B[@-_][0-?]*[ -/]*[@-~]/g;

/** SWE-ReX's `_strip_control_chars`: drop ANSI escape sequences, CRLF → LF; a lone `\r` is kept. */
export function stripControlChars(s: string): string {
  return s.replace(ANSI_ESCAPE, "").replaceAll("\r\n", "\n");
}

/** The prompt every session shell prints when it is ready for a command. */
export const PS1 = "SHELLPS1PREFIX";

/** Our own markers (see bash-session.ts); each carries a random nonce, so user output never imitates one. */
const MARKERS = /SWEREX(?:_(?:END|BAD)_[0-9a-f]+:\d+|SYNC_[0-9a-f]+|READY_[0-9a-f]+)\n?/g;

/** Output as the caller sees it: control characters stripped, prompts and protocol markers removed. */
export function cleanOutput(raw: string): string {
  return stripControlChars(raw).replace(MARKERS, "").replaceAll(PS1, "");
}
