/** A Tencent Cloud API business error: answered as HTTP 200 with `Response.Error {Code, Message}`. */
export class AgsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AgsApiError";
  }
}
