/**
 * One rollout as the proxy sees it: its policy backend, its call budget (`maxSteps`), the calls in flight
 * and the record of every call made.
 */

import { PolicyError } from "../policy/errors.js";
import type { ModelCallRecord, PolicyBackend } from "../types.js";

export interface OpenSessionOptions {
  /**
   * Model calls this rollout may make; the next one gets a 403 `max_steps_exceeded`. Default 30 (the seed's);
   * 0 means no limit (SWE-agent's `per_instance_call_limit` convention).
   */
  maxSteps?: number;
  /** Backend for this rollout only (else the proxy's). The proxy never closes it. */
  policy?: PolicyBackend;
  /** Copied into every record (task id, attempt, ...) and handed to the policy. */
  metadata?: Record<string, unknown>;
}

export const DEFAULT_MAX_STEPS = 30;
/** `maxSteps: 0`: no call budget. */
export const UNLIMITED_STEPS = 0;

export class ProxySession {
  readonly id: string;
  /** OpenAI base URL for the agent: `http://host:port/sessions/{id}/v1`. */
  readonly baseUrl: string;
  readonly maxSteps: number;
  readonly policy: PolicyBackend;
  readonly metadata: Record<string, unknown> | undefined;
  /** Opened by the proxy on first use of its id (not by `openSession`); only such sessions are evicted when idle. */
  readonly autoOpened: boolean;
  /** `performance.now()` of the last call that started or ended (idle eviction). */
  lastUsedMs = performance.now();
  /** Called after every call of this session (answered or failed), with its record. */
  onCall?: (record: ModelCallRecord) => void;
  /** Model calls handed to the policy so far. */
  steps = 0;
  /** Set once the agent asked past `maxSteps` and was refused. */
  limitReached = false;
  private closedFlag = false;
  private readonly log: ModelCallRecord[] = [];
  private readonly inFlight = new Set<AbortController>();
  private readonly detach: (s: ProxySession) => void;

  constructor(
    id: string,
    baseUrl: string,
    policy: PolicyBackend,
    opts: OpenSessionOptions,
    detach: (s: ProxySession) => void,
    autoOpened = false,
  ) {
    const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
    if (!Number.isInteger(maxSteps) || maxSteps < 0) {
      throw new RangeError(`maxSteps must be a non-negative integer, got ${maxSteps}`);
    }
    this.id = id;
    this.baseUrl = baseUrl;
    this.policy = policy;
    this.maxSteps = maxSteps;
    this.metadata = opts.metadata;
    this.detach = detach;
    this.autoOpened = autoOpened;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** No further model call will be answered: the budget is used up or the session was closed. */
  get done(): boolean {
    return this.closedFlag || this.budgetUsed;
  }

  /** The call budget is used up (never, with `maxSteps: 0`). */
  get budgetUsed(): boolean {
    return this.maxSteps !== UNLIMITED_STEPS && this.steps >= this.maxSteps;
  }

  /** Calls currently waiting on the policy. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Every call so far, in completion order (a copy). */
  records(): ModelCallRecord[] {
    return this.log.slice();
  }

  /** Ends the session: it leaves the proxy, and calls still waiting get a 410 `session_closed`. Idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.detach(this);
    this.abortAll(
      new PolicyError(`session ${this.id} was closed`, {
        status: 410,
        type: "session_closed",
        code: "session_closed",
      }),
    );
  }

  /** @internal */
  track(ac: AbortController): void {
    this.inFlight.add(ac);
    this.lastUsedMs = performance.now();
  }

  /** @internal */
  untrack(ac: AbortController): void {
    this.inFlight.delete(ac);
    this.lastUsedMs = performance.now();
  }

  /** @internal */
  addRecord(record: ModelCallRecord): void {
    this.log.push(record);
  }

  /** @internal The proxy is shutting down: close without detaching, failing calls in flight with `reason`. */
  shutdown(reason: PolicyError): void {
    this.closedFlag = true;
    this.abortAll(reason);
  }

  private abortAll(reason: PolicyError): void {
    for (const ac of this.inFlight) ac.abort(reason);
    this.inFlight.clear();
  }
}
