/**
 * Liveness probes over kept-alive connections, for the warm-pool hand-out: the hand-out must check the
 * sandbox's runtime answers, and most of that check's cost is the TCP connect (through the engine's port
 * proxy, another process to schedule on a busy machine), not the request. Probing a sandbox ahead of time
 * (`warm`) leaves a connection open that the hand-out's `answers` then reuses. Guarantee: `answers` is true
 * only when the runtime answered `is_alive` just now; a kept connection the runtime closed meanwhile is not
 * taken for a dead runtime (the probe is repeated once on a new connection).
 */
import { Agent, type Dispatcher } from "undici";
import { runtimeAnswers } from "./probe.js";
import type { RuntimeTarget } from "./types.js";

/**
 * How long an idle probe connection is kept. Below the runtime server's own idle limit (Fastify's 72 s),
 * so the runtime never closes one just as it is reused, and above the warm interval (so warming keeps it).
 */
export const KEPT_CONNECTION_MS = 60_000;

export class KeptAliveProbe {
  private readonly agent: Agent = new Agent({
    keepAliveTimeout: KEPT_CONNECTION_MS,
    keepAliveMaxTimeout: KEPT_CONNECTION_MS,
    headersTimeout: 0,
    bodyTimeout: 0,
  });

  /** Whether the runtime answers within `timeoutMs` (reusing a kept connection when there is one). */
  async answers(target: RuntimeTarget, timeoutMs: number): Promise<boolean> {
    const started = performance.now();
    if (await runtimeAnswers(target, timeoutMs, this.via(target))) return true;
    // A runtime that let the whole deadline pass is not answering; a quick failure may be a kept connection
    // closed under us (the runtime restarted its server, a proxy dropped it): ask once more on a new one.
    const left = timeoutMs - (performance.now() - started);
    if (left <= 0) return false;
    return runtimeAnswers(target, left, target.dispatcher);
  }

  /** Opens (or keeps open) a connection to the runtime by probing it; never throws. */
  async warm(target: RuntimeTarget, timeoutMs: number): Promise<void> {
    await runtimeAnswers(target, timeoutMs, this.via(target)).catch(() => false);
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private via(target: RuntimeTarget): Dispatcher {
    // A target that brings its own connections (AGS through a gateway) keeps using them.
    return target.dispatcher ?? this.agent;
  }
}
