/** Logging helpers every room shares (a leaf: imports nothing of ours). */
export { isSecretName, REDACTED, redactHeaders, redactingLoggerOptions } from "./redact.js";
