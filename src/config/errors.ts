/**
 * Configuration errors. Every problem names where the bad value came from (a flag, an env var, a file) and
 * what it accepts, so a user can fix it without reading the source.
 */
import { PythonValueError } from "../runtime/errors.js";

export interface ConfigIssue {
  /** Where the value came from, as the user would type it: `--instances.deployment.pull`, an env var name... */
  where: string;
  /** What is wrong and what is accepted, e.g. `expected one of never|always|missing, got "sometimes"`. */
  message: string;
}

/** A configuration value was rejected. A `ValueError` for SWE-ReX peers, as pydantic's ValidationError is. */
export class ConfigError extends PythonValueError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.where}: ${i.message}`).join("\n"));
    this.issues = issues;
  }
}
