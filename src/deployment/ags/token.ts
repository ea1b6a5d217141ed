/**
 * The sandbox access token (`X-Access-Token`) of one instance. `ExpiresAt` is authoritative (spec/ags.md
 * 3.3): the token is refreshed 60 s before it, on a 401, and after a resume. Concurrent requests that need a
 * refresh share one AcquireSandboxInstanceToken call.
 */

import type { TokenSource } from "../../runtime/index.js";
import { raceAbort } from "./abort.js";
import type { AgsClient } from "./client.js";

export const TOKEN_REFRESH_THRESHOLD_MS = 60_000;
const FALLBACK_LIFETIME_MS = 3_600_000;

/**
 * `ExpiresAt` as ms since the epoch: ISO 8601 (`Z` or an offset such as `+08:00`), else unix seconds (or
 * ms), else one hour from now, as SWE-ReX does.
 */
export function parseExpiresAt(value: string | undefined, now = Date.now()): number {
  if (value) {
    const trimmed = value.trim();
    if (/^\d+(\.\d+)?$/.test(trimmed)) {
      const n = Number(trimmed);
      return n > 1e12 ? n : n * 1000;
    }
    const parsed = Date.parse(trimmed);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return now + FALLBACK_LIFETIME_MS;
}

export class InstanceTokenProvider implements TokenSource {
  private token: string | undefined;
  private expiresAtMs = 0;
  private acquiredAtMs = 0;
  private pending: Promise<string> | undefined;
  /** AcquireSandboxInstanceToken calls made, for tests and the benchmark. */
  acquisitions = 0;

  constructor(
    private readonly client: AgsClient,
    readonly instanceId: string,
    private readonly opts: { refreshBeforeMs?: number; now?: () => number } = {},
  ) {}

  /** Whether a token is at hand (acquired, not invalidated since): using it costs no API call. */
  get held(): boolean {
    return this.token !== undefined;
  }

  get expiresAt(): number {
    return this.expiresAtMs;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Refresh 60 s before expiry; a token that lives shorter than two minutes (the emulator's short TTLs) is
   * refreshed at half its lifetime instead, so it is not renewed before every single request.
   */
  private fresh(): boolean {
    if (this.token === undefined) return false;
    const threshold = Math.min(
      this.opts.refreshBeforeMs ?? TOKEN_REFRESH_THRESHOLD_MS,
      (this.expiresAtMs - this.acquiredAtMs) / 2,
    );
    return this.expiresAtMs - this.now() > threshold;
  }

  async get(signal?: AbortSignal): Promise<string> {
    if (this.fresh() && this.token) return this.token;
    return this.refresh(undefined, signal);
  }

  refresh(stale?: string, signal?: AbortSignal): Promise<string> {
    if (stale !== undefined && this.token !== undefined && this.token !== stale && this.fresh()) {
      return Promise.resolve(this.token);
    }
    // Shared by every caller until it settles; the acquisition itself is not tied to one caller's signal.
    this.pending ??= this.acquire().finally(() => {
      this.pending = undefined;
    });
    return signal ? raceAbort(this.pending, signal) : this.pending;
  }

  /** Forgets the token, e.g. after a resume: the next `get` acquires a new one. */
  invalidate(): void {
    this.token = undefined;
    this.expiresAtMs = 0;
  }

  private async acquire(): Promise<string> {
    this.acquisitions++;
    const res = await this.client.call(
      "AcquireSandboxInstanceToken",
      { InstanceId: this.instanceId },
      { signal: AbortSignal.timeout(60_000) },
    );
    if (!res.Token) throw new Error(`AcquireSandboxInstanceToken returned no token for ${this.instanceId}`);
    this.token = res.Token;
    this.acquiredAtMs = this.now();
    this.expiresAtMs = parseExpiresAt(res.ExpiresAt, this.acquiredAtMs);
    return res.Token;
  }
}
