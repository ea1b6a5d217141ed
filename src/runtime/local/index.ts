/** LocalRuntime and the bash helpers it is built from. */
export { findBash } from "./bash-binary.js";
export { checkBashCommand } from "./bash-check.js";
export { isPlainBashCommand } from "./bash-plain.js";
export { INTERRUPTED_EXIT_CODE } from "./bash-session.js";
export { splitBashCommand } from "./bash-split.js";
export { type DecodeErrors, decodeBytes, type Encoding, lookupEncoding, lookupErrors } from "./codec.js";
export { executeCommand } from "./execute.js";
export { DEFAULT_MAX_SESSIONS, LocalRuntime, type LocalRuntimeOptions } from "./local-runtime.js";
export { DEFAULT_MAX_OUTPUT_CHARS } from "./pty-expect.js";
export { pyFloat, pyRepr, pyStrRepr } from "./pyrepr.js";
export {
  type LeftoverTempDir,
  makeOwnedTempDir,
  OWNER_MARKER,
  processStartTime,
  reapTempDirs,
} from "./temp-dirs.js";
export { cleanOutput, PS1, stripControlChars } from "./terminal-text.js";
