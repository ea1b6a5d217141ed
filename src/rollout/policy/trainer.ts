/**
 * Trainer-driven policy backend: the seed's `get_request()` / `send_response()` loop. Each model call the
 * agent makes is parked here until a trainer (in this process, or in another one over the proxy's
 * `/trainer/*` routes) pulls it with `getRequest` and answers it with `sendResponse`. Every wait is bounded:
 * `getRequest` by its timeout, a parked call by the proxy's per-request timeout (its AbortSignal).
 */
import { randomUUID } from "node:crypto";
import type { ChatCompletionRequest, PolicyBackend, PolicyContext, PolicyResponse } from "../types.js";
import { abortReasonError, PolicyError } from "./errors.js";

/** What a trainer receives for each call (also the JSON of `GET /trainer/requests`). */
export interface TrainerRequest {
  request_id: string;
  session_id: string;
  step: number;
  request: ChatCompletionRequest;
  metadata?: Record<string, unknown>;
}

/** How a trainer fails a call instead of answering it; the agent gets this as an OpenAI error. */
export interface TrainerError {
  message: string;
  type?: string;
  code?: string;
  /** HTTP status the agent sees; default 500. */
  status?: number;
}

export interface GetRequestOptions {
  signal?: AbortSignal;
  /** How long to wait for a call; resolves `null` when none arrived. Default 30 000, at most 600 000. */
  timeoutMs?: number;
  /** Only hand out calls of this rollout (the seed's one-trainer-loop-per-rollout form). */
  sessionId?: string;
  /** Only hand out calls this predicate accepts (the control plane: calls of one API key's rollouts). */
  accept?: (item: TrainerRequest) => boolean;
}

interface Parked {
  item: TrainerRequest;
  claimed: boolean;
  resolve(resp: PolicyResponse): void;
  reject(err: PolicyError): void;
}

interface Waiter {
  sessionId: string | undefined;
  accept: ((item: TrainerRequest) => boolean) | undefined;
  deliver(item: TrainerRequest | null): void;
}

export const TRAINER_WAIT_DEFAULT_MS = 30_000;
export const TRAINER_WAIT_MAX_MS = 600_000;

export class TrainerPolicy implements PolicyBackend {
  /** Every unanswered call by request id; Map order is arrival order, so scans hand out the oldest first. */
  private readonly parked = new Map<string, Parked>();
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  /** Calls not yet answered (handed out or not). */
  get pendingCount(): number {
    return this.parked.size;
  }

  complete(request: ChatCompletionRequest, ctx: PolicyContext): Promise<PolicyResponse> {
    if (this.closed) return Promise.reject(closedError());
    if (ctx.signal.aborted) return Promise.reject(abortReasonError(ctx.signal));
    const item: TrainerRequest = {
      request_id: ctx.requestId ?? `req_${randomUUID()}`,
      session_id: ctx.sessionId,
      step: ctx.step,
      request,
    };
    if (ctx.metadata !== undefined) item.metadata = ctx.metadata;
    return new Promise<PolicyResponse>((resolve, reject) => {
      const onAbort = () => {
        this.parked.delete(item.request_id);
        reject(abortReasonError(ctx.signal));
      };
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      const parked: Parked = {
        item,
        claimed: false,
        resolve: (resp) => {
          ctx.signal.removeEventListener("abort", onAbort);
          resolve(resp);
        },
        reject: (err) => {
          ctx.signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      this.parked.set(item.request_id, parked);
      this.offer(parked);
    });
  }

  /**
   * The next call nobody has taken yet (oldest first), or `null` when none arrives within `timeoutMs`.
   * Rejects with the signal's reason when `signal` aborts.
   */
  getRequest(opts: GetRequestOptions = {}): Promise<TrainerRequest | null> {
    const { signal, sessionId, accept } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ready = this.takeFirst(sessionId, accept);
    if (ready) return Promise.resolve(ready.item);
    if (this.closed) return Promise.resolve(null);
    const timeoutMs = Math.min(Math.max(opts.timeoutMs ?? TRAINER_WAIT_DEFAULT_MS, 0), TRAINER_WAIT_MAX_MS);
    return new Promise<TrainerRequest | null>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        sessionId,
        accept,
        deliver: (item) => {
          finish();
          resolve(item);
        },
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        finish();
        resolve(null);
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** The session (rollout) of a pending call; undefined when the call is not pending. */
  sessionOf(requestId: string): string | undefined {
    return this.parked.get(requestId)?.item.session_id;
  }

  /** Answers a call. `false` when the id is unknown: already answered, timed out, or cancelled. */
  sendResponse(requestId: string, response: PolicyResponse): boolean {
    const parked = this.parked.get(requestId);
    if (!parked) return false;
    this.parked.delete(requestId);
    parked.resolve(response);
    return true;
  }

  /** Fails a call with an OpenAI error for the agent. `false` when the id is unknown. */
  sendError(requestId: string, error: TrainerError): boolean {
    const parked = this.parked.get(requestId);
    if (!parked) return false;
    this.parked.delete(requestId);
    parked.reject(
      new PolicyError(error.message, {
        status: error.status ?? 500,
        type: error.type ?? "trainer_error",
        ...(error.code === undefined ? {} : { code: error.code }),
      }),
    );
    return true;
  }

  /**
   * Puts a handed-out call back in line (a long-poll whose HTTP client vanished before it got the call).
   * `false` when the call is no longer pending.
   */
  release(requestId: string): boolean {
    const parked = this.parked.get(requestId);
    if (!parked?.claimed) return false;
    parked.claimed = false;
    this.offer(parked);
    return true;
  }

  /** Fails every pending call (503) and ends every waiting `getRequest` with `null`. */
  async close(): Promise<void> {
    this.closed = true;
    const err = closedError();
    for (const parked of [...this.parked.values()]) parked.reject(err);
    this.parked.clear();
    for (const waiter of [...this.waiters]) waiter.deliver(null);
  }

  private offer(parked: Parked): void {
    for (const waiter of this.waiters) {
      if (matches(parked.item, waiter.sessionId, waiter.accept)) {
        parked.claimed = true;
        waiter.deliver(parked.item);
        return;
      }
    }
  }

  private takeFirst(
    sessionId: string | undefined,
    accept: ((item: TrainerRequest) => boolean) | undefined,
  ): Parked | undefined {
    for (const parked of this.parked.values()) {
      if (!parked.claimed && matches(parked.item, sessionId, accept)) {
        parked.claimed = true;
        return parked;
      }
    }
    return undefined;
  }
}

function matches(
  item: TrainerRequest,
  sessionId: string | undefined,
  accept: ((item: TrainerRequest) => boolean) | undefined,
): boolean {
  return (sessionId === undefined || item.session_id === sessionId) && (accept?.(item) ?? true);
}

function closedError(): PolicyError {
  return new PolicyError("the trainer policy was closed", {
    status: 503,
    type: "unavailable",
    code: "policy_closed",
    retryable: false,
  });
}
