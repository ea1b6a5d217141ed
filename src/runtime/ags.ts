/**
 * AGSRuntime: a RemoteRuntime that talks to swerex-remote through the AGS sandbox gateway
 * (`https://{port}-{InstanceId}.{domain}`). It adds the `X-Access-Token` header (refreshed before it
 * expires, once on a 401, and after a resume via the token source), and maps the gateway's 404 to
 * `EnvironmentExpiredError`. 502/503 are retried by RemoteRuntime.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Dispatcher } from "undici";
import { EnvironmentExpiredError } from "./errors.js";
import type { IsAliveResponse } from "./protocol.js";
import { type RemoteRequest, RemoteRuntime, type RemoteRuntimeOptions } from "./remote.js";
import type { IsAliveOptions } from "./runtime.js";

/** Where AGSRuntime gets its `X-Access-Token`; the AGS deployment implements it (InstanceTokenProvider). */
export interface TokenSource {
  /** The current token, refreshed first when it is missing or about to expire. */
  get(signal?: AbortSignal): Promise<string>;
  /**
   * A fresh token. `stale` is the token a request was rejected with: when another caller has already
   * replaced it, that replacement is returned without a second refresh.
   */
  refresh(stale?: string, signal?: AbortSignal): Promise<string>;
}

export const ACCESS_TOKEN_HEADER = "X-Access-Token";

export interface AGSRuntimeOptions extends Omit<RemoteRuntimeOptions, "auth_token" | "defaultScheme"> {
  /** `https://{port}-{InstanceId}.{domain}`. */
  host: string;
  tokens: TokenSource;
  /** swerex-remote's own key (`X-API-Key`); AGS sandboxes run the server without one. */
  auth_token?: string;
  /** A dispatcher this runtime created for itself and must close on dispose. */
  ownedDispatcher?: Dispatcher;
}

/** Per logical request: the token the latest attempt sent, and whether a 401 already caused a refresh. */
interface RequestTokenState {
  sent?: string;
  refreshedOn401: boolean;
}

export class AGSRuntime extends RemoteRuntime {
  private readonly tokens: TokenSource;
  private readonly ownedDispatcher: Dispatcher | undefined;
  // RemoteRuntime calls requestHeaders() and onErrorStatus() inside one request(); this carries the state
  // between them for that request only, so concurrent requests do not see each other's tokens.
  private readonly requestState = new AsyncLocalStorage<RequestTokenState>();

  constructor(opts: AGSRuntimeOptions) {
    const { tokens, ownedDispatcher, ...rest } = opts;
    super({
      auth_token: "",
      ...rest,
      defaultScheme: "https",
      dispatcher: ownedDispatcher ?? rest.dispatcher,
    });
    this.tokens = tokens;
    this.ownedDispatcher = ownedDispatcher;
  }

  protected override async requestHeaders(): Promise<Record<string, string>> {
    const headers = await super.requestHeaders();
    const token = await this.tokens.get();
    const state = this.requestState.getStore();
    if (state) state.sent = token;
    headers[ACCESS_TOKEN_HEADER] = token;
    return headers;
  }

  protected override request<T>(req: RemoteRequest<T>): Promise<T> {
    return this.requestState.run({ refreshedOn401: false }, () => super.request<T>(req));
  }

  protected override async onErrorStatus(status: number, body: string): Promise<"retry" | undefined> {
    if (status === 401) {
      const state = this.requestState.getStore();
      if (!state || state.refreshedOn401) return undefined;
      state.refreshedOn401 = true;
      // Concurrent requests rejected with the same token share one refresh.
      await this.tokens.refresh(state.sent);
      return "retry";
    }
    if (status === 404) throw expiredError(body);
    return undefined;
  }

  /** Never throws. A 401 gets one token refresh and a second try, as requests do. */
  override async isAlive(opts: IsAliveOptions = {}): Promise<IsAliveResponse> {
    let sent: string;
    try {
      sent = await this.tokens.get();
    } catch (err) {
      return { is_alive: false, message: `Could not get an AGS access token: ${messageOf(err)}` };
    }
    const first = await super.isAlive(opts);
    if (first.is_alive || !first.message.startsWith("Status code 401")) return first;
    try {
      await this.tokens.refresh(sent);
    } catch (err) {
      return { is_alive: false, message: `${first.message}; token refresh failed: ${messageOf(err)}` };
    }
    return super.isAlive(opts);
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    await this.ownedDispatcher?.close().catch(() => undefined);
  }
}

/** SWE-ReX's wording (spec/swerex.md 10.A), with the gateway's own message when it gave one. */
function expiredError(body: string): EnvironmentExpiredError {
  let detail = "The requested resource does not exist";
  try {
    const json = JSON.parse(body) as { message?: unknown; error?: unknown };
    const m = json.message ?? json.error;
    if (typeof m === "string" && m) detail = m;
  } catch {
    // Not JSON: keep the default wording.
  }
  return new EnvironmentExpiredError(
    `AGS sandbox runtime endpoint returned 404: ${detail}. The sandbox instance likely expired or was stopped.`,
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
