/**
 * RemoteRuntime: the HTTP client of the `swerex-remote` protocol (SWE-ReX `runtime/remote.py`), on undici.
 * Differences from upstream, each for a reported problem: one keep-alive connection pool per runtime instead
 * of a new connection per call; HTTP deadlines derived from each action's own timeout instead of a hidden
 * 300 s (#189, #290); retries that actually happen (#297, #299), with exponential backoff and the same
 * `X-Request-ID` on every attempt, which our server turns into "executed once".
 *
 * Extension points (AGSRuntime subclasses this):
 * - `requestHeaders()`: the headers of every request, awaited per attempt, so a subclass can refresh a token.
 * - `onErrorStatus(status, body, attempt)`: sees every HTTP status >= 400 before the normal handling; it may
 *   throw its own error (e.g. 404 → EnvironmentExpiredError) or return "retry" to send the request again at
 *   once (e.g. 401 → refresh the token), at most `MAX_HOOK_RETRIES` times per request.
 * - Constructor options `dispatcher` (an undici Dispatcher, e.g. to resolve `*.domain` to a local emulator or
 *   to skip TLS verification; it stays the caller's to close) and `headers` (sent with every request).
 * - `defaultScheme`: the scheme added to a bare host (AGS uses https).
 */
import { randomUUID } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { Logger } from "pino";
import { Agent, type Dispatcher, FormData, request } from "undici";
import type { z } from "zod";
import {
  EnvironmentUnavailableError,
  fromExceptionTransfer,
  fromNodeError,
  PythonTimeoutError,
  PythonValueError,
  SwerexError,
} from "../errors.js";
import {
  Action,
  type ActionInput,
  BashObservation,
  type CloseResponse,
  CloseSessionRequest,
  type CloseSessionRequestInput,
  CloseSessionResponse,
  Command,
  type CommandInput,
  CommandResponse,
  CreateSessionRequest,
  type CreateSessionRequestInput,
  CreateSessionResponse,
  EmptyResponse,
  ExceptionTransfer,
  IsAliveResponse,
  type Observation,
  ReadFileRequest,
  type ReadFileRequestInput,
  ReadFileResponse,
  type UploadRequest,
  type UploadResponse,
  WriteFileRequest,
  type WriteFileResponse,
} from "../protocol.js";
import type { IsAliveOptions, Runtime } from "../runtime.js";
import { sleep } from "../sleep.js";
import { timeoutSignal } from "../timer.js";
import { type WaitUntilAliveOptions, waitUntilAlive } from "../wait.js";
import { zipDirectory } from "./archive.js";
import { apiUrlOf, normalizeHost, RemoteRuntimeConfig, type RemoteRuntimeConfigInput } from "./config.js";
import { commandDeadlineMs, interruptWorkSeconds, plainDeadlineMs } from "./deadline.js";
import { isTransientTransportError, nextBackoff, RETRY_STATUSES } from "./retry.js";

/** An HTTP error status that is not a transferred runtime exception. */
export class RemoteHttpError extends SwerexError {
  static override readonly classPath: string = "swerex_ts.RemoteHttpError";
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string, what: string) {
    super(`${what} returned HTTP ${status}: ${body.slice(0, 500)}`, { extraInfo: { status } });
    this.status = status;
    this.body = body;
  }
}

export interface RemoteRuntimeOptions extends RemoteRuntimeConfigInput {
  logger?: Logger;
  /** Connection override; when given, `dispose()` leaves it open (it is yours). */
  dispatcher?: Dispatcher;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Scheme added to a host without one. Default "http". */
  defaultScheme?: "http" | "https";
}

/** What `request()` sends. */
export interface RemoteRequest<T> {
  method: "GET" | "POST";
  endpoint: string;
  /** JSON body. */
  json?: unknown;
  /** Multipart body, built anew for every attempt. */
  form?: () => FormData;
  response: z.ZodType<T>;
  /** Overall deadline across all attempts; `null`: none. */
  deadlineMs: number | null;
}

export const MAX_HOOK_RETRIES = 3;

export class RemoteRuntime implements Runtime {
  readonly config: RemoteRuntimeConfig;
  /** `host[:port]`, no trailing slash. */
  protected readonly apiUrl: string;
  protected readonly dispatcher: Dispatcher;
  protected readonly logger: Logger | undefined;
  protected readonly extraHeaders: Record<string, string>;
  private readonly ownsDispatcher: boolean;
  private disposed: Promise<void> | undefined;

  constructor(opts: RemoteRuntimeOptions) {
    const { logger, dispatcher, headers, defaultScheme, ...config } = opts;
    this.config = RemoteRuntimeConfig.parse(config);
    this.logger = logger;
    if (!this.config.host.startsWith("http")) {
      logger?.warn({ host: this.config.host }, "host has no scheme; adding %s://", defaultScheme ?? "http");
    }
    this.apiUrl = apiUrlOf(normalizeHost(this.config.host, defaultScheme), this.config.port);
    this.extraHeaders = headers ?? {};
    this.ownsDispatcher = dispatcher === undefined;
    // No undici-level timeouts (their default is 300 s): every request carries its own deadline instead.
    this.dispatcher =
      dispatcher ?? new Agent({ keepAliveTimeout: 10_000, headersTimeout: 0, bodyTimeout: 0 });
  }

  static fromConfig(
    config: RemoteRuntimeConfigInput,
    opts: Omit<RemoteRuntimeOptions, keyof RemoteRuntimeConfigInput> = {},
  ) {
    return new RemoteRuntime({ ...config, ...opts });
  }

  /** Headers of every request; awaited before each attempt. */
  protected async requestHeaders(): Promise<Record<string, string>> {
    const headers = { ...this.extraHeaders };
    if (this.config.auth_token !== "") headers["X-API-Key"] = this.config.auth_token;
    return headers;
  }

  /** Sees every status >= 400 first. Throw to replace the normal error; return "retry" to resend now. */
  protected async onErrorStatus(
    _status: number,
    _body: string,
    _attempt: number,
  ): Promise<"retry" | undefined> {
    return undefined;
  }

  /** Never throws: an unreachable or failing server answers `{is_alive: false, message}`. */
  async isAlive(opts: IsAliveOptions = {}): Promise<IsAliveResponse> {
    const url = `${this.apiUrl}/is_alive`;
    try {
      const res = await request(url, {
        method: "GET",
        dispatcher: this.dispatcher,
        headers: await this.requestHeaders(),
        signal: timeoutSignal(opts.timeoutMs ?? this.config.timeout * 1000),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const text = await res.body.text();
      if (res.statusCode === 200) return IsAliveResponse.parse(JSON.parse(text));
      if (res.statusCode === 511) return { is_alive: false, message: this.errorFor(511, text, url).message };
      return {
        is_alive: false,
        message: `Status code ${res.statusCode} from ${url}. Message: ${detailOf(text)}`,
      };
    } catch (err) {
      return {
        is_alive: false,
        message: `Failed to connect to ${this.apiUrl}\n${describeTransportError(err)}`,
      };
    }
  }

  /**
   * Polls `isAlive` every 0.25 s until it answers yes (upstream `wait_until_alive(timeout=60.0)`); throws
   * upstream's TimeoutError message on timeout. Each check gets this client's `timeout` unless told otherwise.
   */
  async waitUntilAlive(opts: WaitUntilAliveOptions = {}): Promise<void> {
    await waitUntilAlive((timeoutMs) => this.isAlive({ timeoutMs }), {
      ...opts,
      timeoutMs: opts.timeoutMs ?? 60_000,
      functionTimeoutMs: opts.functionTimeoutMs ?? this.config.timeout * 1000,
    });
  }

  async createSession(req: CreateSessionRequestInput): Promise<CreateSessionResponse> {
    const body = CreateSessionRequest.parse(req);
    return this.request({
      method: "POST",
      endpoint: "create_session",
      json: body,
      response: CreateSessionResponse,
      deadlineMs: commandDeadlineMs(body.startup_timeout, this.config),
    });
  }

  async runInSession(input: ActionInput): Promise<Observation> {
    const action = Action.parse(input);
    const work =
      action.action_type === "bash" ? action.timeout : interruptWorkSeconds(action.timeout, action.n_retry);
    return this.request({
      method: "POST",
      endpoint: "run_in_session",
      json: action,
      response: BashObservation,
      deadlineMs: commandDeadlineMs(work, this.config),
    });
  }

  async closeSession(req: CloseSessionRequestInput): Promise<CloseSessionResponse> {
    return this.post("close_session", CloseSessionRequest.parse(req), CloseSessionResponse);
  }

  async execute(input: CommandInput): Promise<CommandResponse> {
    const cmd = Command.parse(input);
    return this.request({
      method: "POST",
      endpoint: "execute",
      json: cmd,
      response: CommandResponse,
      deadlineMs: commandDeadlineMs(cmd.timeout, this.config),
    });
  }

  async readFile(req: ReadFileRequestInput): Promise<ReadFileResponse> {
    return this.post("read_file", ReadFileRequest.parse(req), ReadFileResponse);
  }

  async writeFile(req: WriteFileRequest): Promise<WriteFileResponse> {
    return this.post("write_file", WriteFileRequest.parse(req), EmptyResponse);
  }

  /** Sends a file as it is, or a directory as a zip of its contents that the server extracts. */
  async upload(req: UploadRequest): Promise<UploadResponse> {
    const source = resolve(req.source_path);
    const info = await stat(source).catch((err: unknown) => {
      throw fromNodeError(err);
    });
    let payload: { data: Uint8Array; filename: string; type: string; unzip: boolean };
    if (info.isDirectory()) {
      payload = {
        data: await zipDirectory(source),
        filename: "zipped_transfer.zip",
        type: "application/zip",
        unzip: true,
      };
    } else if (info.isFile()) {
      payload = {
        data: await readFile(source),
        filename: basename(source),
        type: "application/octet-stream",
        unzip: false,
      };
    } else {
      throw new PythonValueError(`Source path ${source} is not a file or directory`);
    }
    const form = () => {
      const fd = new FormData();
      fd.append("file", new Blob([payload.data], { type: payload.type }), payload.filename);
      fd.append("target_path", req.target_path);
      fd.append("unzip", payload.unzip ? "true" : "false");
      return fd;
    };
    return this.request({
      method: "POST",
      endpoint: "upload",
      form,
      response: EmptyResponse,
      deadlineMs: plainDeadlineMs(this.config),
    });
  }

  /** POST /close (the server closes its sessions and keeps running), then releases our connection pool. */
  async close(): Promise<CloseResponse> {
    try {
      return await this.request({
        method: "POST",
        endpoint: "close",
        response: EmptyResponse,
        deadlineMs: plainDeadlineMs(this.config),
      });
    } finally {
      await this.dispose();
    }
  }

  /** Closes the connection pool this runtime created (not a dispatcher passed in). Idempotent. */
  async dispose(): Promise<void> {
    if (!this.ownsDispatcher) return;
    this.disposed ??= this.dispatcher.close();
    await this.disposed;
  }

  private post<T>(endpoint: string, json: unknown, response: z.ZodType<T>): Promise<T> {
    return this.request({
      method: "POST",
      endpoint,
      json,
      response,
      deadlineMs: plainDeadlineMs(this.config),
    });
  }

  /**
   * Sends one logical request: one `X-Request-ID` for all attempts; retries transport errors and 502/503/504
   * up to `num_retries` times with backoff; 511 re-raises the server's exception as its TS class.
   */
  protected async request<T>(req: RemoteRequest<T>): Promise<T> {
    const url = `${this.apiUrl}/${req.endpoint}`;
    const what = `${req.method} ${url}`;
    const requestId = randomUUID();
    const signal = req.deadlineMs === null ? undefined : timeoutSignal(req.deadlineMs);
    let retries = 0;
    let hookRetries = 0;
    let delay = this.config.retry_backoff;
    for (let attempt = 1; ; attempt++) {
      const retryAfterBackoff = async (reason: string): Promise<boolean> => {
        if (retries >= this.config.num_retries) return false;
        retries += 1;
        this.logger?.warn({ endpoint: req.endpoint, attempt, reason, delay }, "retrying request");
        await sleep(delay * 1000, signal).catch(() => undefined);
        delay = nextBackoff(delay, this.config.retry_backoff_max);
        return !signal?.aborted;
      };
      let status: number;
      let text: string;
      try {
        const headers: Record<string, string> = {
          ...(await this.requestHeaders()),
          "X-Request-ID": requestId,
        };
        let body: string | FormData | undefined;
        if (req.form) body = req.form();
        else if (req.json !== undefined) {
          body = JSON.stringify(req.json);
          headers["Content-Type"] = "application/json";
        }
        const res = await request(url, {
          method: req.method,
          dispatcher: this.dispatcher,
          headers,
          body,
          signal,
          headersTimeout: 0,
          bodyTimeout: 0,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        if (signal?.aborted) {
          throw new PythonTimeoutError(`${what} got no answer within ${(req.deadlineMs ?? 0) / 1000}s`, {
            cause: err,
          });
        }
        if (isTransientTransportError(err) && (await retryAfterBackoff(describeTransportError(err))))
          continue;
        if (signal?.aborted)
          throw new PythonTimeoutError(`${what} got no answer within ${(req.deadlineMs ?? 0) / 1000}s`);
        throw new EnvironmentUnavailableError(
          `${what} failed after ${attempt} attempt(s): ${describeTransportError(err)}`,
          {
            cause: err,
          },
        );
      }
      if (status >= 200 && status < 300) return req.response.parse(text === "" ? {} : JSON.parse(text));
      if ((await this.onErrorStatus(status, text, attempt)) === "retry" && hookRetries < MAX_HOOK_RETRIES) {
        hookRetries += 1;
        continue;
      }
      if (RETRY_STATUSES.has(status) && (await retryAfterBackoff(`HTTP ${status}`))) continue;
      throw this.errorFor(status, text, what);
    }
  }

  /** The error a response stands for: the transferred exception for a 511 envelope, else RemoteHttpError. */
  protected errorFor(status: number, text: string, what: string): SwerexError {
    if (status === 511) {
      const transfer = ExceptionTransfer.safeParse(parseJson(text)?.swerexception);
      if (transfer.success) {
        this.logger?.debug(
          { class_path: transfer.data.class_path, traceback: transfer.data.traceback },
          "remote exception",
        );
        return fromExceptionTransfer(transfer.data);
      }
    }
    return new RemoteHttpError(status, text, what);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** FastAPI's `detail`, or the start of the body. */
function detailOf(text: string): string {
  const detail = parseJson(text)?.detail;
  if (detail === undefined) return text.slice(0, 500);
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

/** A transport error in one line: its code and message (for AggregateErrors, each attempt's). */
export function describeTransportError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0)
    return err.errors.map(describeTransportError).join("; ");
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || err.name;
  }
  return String(err);
}
