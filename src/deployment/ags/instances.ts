/**
 * Instance state waits. Every deployment that waits for its instance registers with one poller per client,
 * which asks DescribeSandboxInstanceList about up to 100 instances per call: 100 deployments starting at
 * once cost one status call per interval, not 100, which matters under a 20 requests/s limit.
 */

import type { Logger } from "pino";
import { sleep } from "../../runtime/index.js";
import type { AgsClient } from "./client.js";
import { AgsInstanceStateError, AgsRequestError } from "./errors.js";
import { isRetryable } from "./retry.js";
import type { SandboxInstance } from "./types.js";

/** States that end a wait with an error, whatever was expected (spec/ags.md 4.3: ags-cli's failure set). */
export const FAILED_STATES = new Set([
  "FAILED",
  "STARTING_FAILED",
  "STOPPING_FAILED",
  "STOP_FAILED",
  "PAUSE_FAILED",
  "RESUME_FAILED",
  "FORK_FAILED",
]);

const MAX_IDS_PER_CALL = 100;
/** Polls in a row that did not list an instance before the wait gives up on it. */
const MAX_MISSING_POLLS = 3;

interface Waiter {
  instanceId: string;
  target: ReadonlySet<string>;
  /** States that mean the target will never be reached (besides FAILED_STATES). */
  dead: ReadonlySet<string>;
  missing: number;
  resolve(inst: SandboxInstance): void;
  reject(err: unknown): void;
}

export interface WaitForStateOptions {
  signal?: AbortSignal;
  /** States past which `target` cannot be reached, e.g. STOPPED while waiting for RUNNING. */
  dead?: Iterable<string>;
}

export class InstanceStatusPoller {
  private readonly waiters = new Set<Waiter>();
  private running = false;
  /** Rotates which instances go first, so more than 100 waiters all get polled. */
  private cursor = 0;

  constructor(
    private readonly client: AgsClient,
    private readonly log: Logger,
    readonly intervalMs = 500,
  ) {}

  waitFor(
    instanceId: string,
    target: Iterable<string>,
    opts: WaitForStateOptions = {},
  ): Promise<SandboxInstance> {
    const { signal } = opts;
    signal?.throwIfAborted();
    return new Promise<SandboxInstance>((resolve, reject) => {
      const waiter: Waiter = {
        instanceId,
        target: new Set(target),
        dead: new Set(opts.dead ?? []),
        missing: 0,
        resolve: (inst) => done(() => resolve(inst)),
        reject: (err) => done(() => reject(err)),
      };
      const onAbort = () => waiter.reject(signal?.reason);
      const done = (settle: () => void) => {
        if (!this.waiters.delete(waiter)) return;
        signal?.removeEventListener("abort", onAbort);
        settle();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
      this.ensureLoop();
    });
  }

  private ensureLoop(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.waiters.size > 0) this.ensureLoop();
    });
  }

  private async loop(): Promise<void> {
    while (this.waiters.size > 0) {
      await sleep(this.intervalMs);
      const all = [...this.waiters];
      if (all.length === 0) break;
      const start = this.cursor % all.length;
      const rotated = [...all.slice(start), ...all.slice(0, start)];
      const ids = [...new Set(rotated.map((w) => w.instanceId))].slice(0, MAX_IDS_PER_CALL);
      this.cursor += ids.length;
      try {
        // The waits have their own deadlines; the poll itself gets a generous one so it cannot hang.
        const res = await this.client.call(
          "DescribeSandboxInstanceList",
          { InstanceIds: ids, Limit: MAX_IDS_PER_CALL },
          { signal: AbortSignal.timeout(60_000) },
        );
        this.dispatch(
          rotated.filter((w) => ids.includes(w.instanceId)),
          res.InstanceSet ?? [],
        );
      } catch (err) {
        if (err instanceof AgsRequestError && !isRetryable(err)) {
          for (const w of rotated) if (ids.includes(w.instanceId)) w.reject(err);
        } else {
          this.log.warn({ err: errSummary(err) }, "instance status poll failed; will poll again");
        }
      }
    }
  }

  private dispatch(waiters: Waiter[], instances: SandboxInstance[]): void {
    const byId = new Map(instances.map((i) => [i.InstanceId, i]));
    for (const w of waiters) {
      const inst = byId.get(w.instanceId);
      if (!inst) {
        if (++w.missing >= MAX_MISSING_POLLS) {
          w.reject(
            new AgsRequestError({
              action: "DescribeSandboxInstanceList",
              code: "ResourceNotFound.SandboxInstance",
              message: `instance ${w.instanceId} is not listed`,
              kind: "api",
            }),
          );
        }
        continue;
      }
      w.missing = 0;
      if (w.target.has(inst.Status)) w.resolve(inst);
      else if (FAILED_STATES.has(inst.Status) || w.dead.has(inst.Status)) {
        w.reject(
          new AgsInstanceStateError(inst.InstanceId, inst.Status, [...w.target].join("|"), inst.StopReason),
        );
      }
    }
  }
}

function errSummary(err: unknown): { code?: string; message: string } {
  if (err instanceof AgsRequestError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

const pollers = new WeakMap<AgsClient, InstanceStatusPoller>();

/** The poller shared by every deployment on this client. */
export function instancePoller(client: AgsClient, log: Logger, intervalMs?: number): InstanceStatusPoller {
  let p = pollers.get(client);
  if (!p) {
    p = new InstanceStatusPoller(client, log, intervalMs);
    pollers.set(client, p);
  }
  return p;
}

export async function describeInstance(
  client: AgsClient,
  instanceId: string,
  signal?: AbortSignal,
): Promise<SandboxInstance | undefined> {
  const res = await client.call("DescribeSandboxInstanceList", { InstanceIds: [instanceId] }, { signal });
  return res.InstanceSet?.find((i) => i.InstanceId === instanceId);
}

/** Codes that mean "there is nothing left to stop". */
function isAlreadyGone(err: unknown): boolean {
  return (
    err instanceof AgsRequestError &&
    (err.code === "ResourceNotFound.SandboxInstance" ||
      err.is("UnsupportedOperation") ||
      (err.is("FailedOperation") && /stop/i.test(err.serverMessage)))
  );
}

/**
 * Stops an instance; an instance that is already stopped or unknown counts as stopped. Returns false in that
 * case, true when this call stopped it.
 */
export async function stopInstance(
  client: AgsClient,
  instanceId: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    await client.call("StopSandboxInstance", { InstanceId: instanceId }, { signal });
    return true;
  } catch (err) {
    if (!isAlreadyGone(err)) throw err;
    // "Unsupported" can also mean "not yet stoppable" (STARTING); only a listed STOPPED state settles it.
    if (err instanceof AgsRequestError && err.is("UnsupportedOperation")) {
      const inst = await describeInstance(client, instanceId, signal);
      if (inst && inst.Status !== "STOPPED" && inst.Status !== "STOPPING") throw err;
    }
    return false;
  }
}
