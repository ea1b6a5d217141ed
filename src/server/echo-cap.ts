/**
 * What the server repeats of a request is capped (issue 13 item 5): an error message quotes the command,
 * and a 10 MB command would otherwise come back twice per 511 answer (message and traceback) and fill a
 * log line. The start is kept, the rest is counted.
 */
import type { ExceptionTransfer } from "../runtime/protocol.js";

/** How much of an echoed text is kept: enough to recognise any real command. */
export const MAX_ECHO_CHARS = 8 * 1024;

/** `text` itself when short, else its first `max` characters and how long it was. */
export function capEcho(text: string, max = MAX_ECHO_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length} characters; the rest is not repeated)`;
}

/** The 511 body with its message capped, and the traceback's copy of the message too. */
export function capTransfer(t: ExceptionTransfer): ExceptionTransfer {
  if (t.message.length <= MAX_ECHO_CHARS && t.traceback.length <= 2 * MAX_ECHO_CHARS) return t;
  const message = capEcho(t.message);
  const traceback = capEcho(t.traceback.replace(t.message, message), 2 * MAX_ECHO_CHARS);
  return { ...t, message, traceback };
}
