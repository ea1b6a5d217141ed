/** Failures the store classifies for its callers (everything else is the database's own error). */

/** A `cursor` the store did not hand out (or one that was altered): the API answers 400 naming `cursor`. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
  constructor() {
    super("cursor is not one this service returned");
  }
}

/** A `--database` value that names no store we can open. Never echoes a password. */
export class StoreUrlError extends Error {
  override readonly name = "StoreUrlError";
}

/** Bad arguments to a store method (a programming error in the caller, not bad user input). */
export class StoreArgumentError extends Error {
  override readonly name = "StoreArgumentError";
}
