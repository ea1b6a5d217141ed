import { request } from "undici";
import { sleep } from "../../runtime/index.js";
import type { LoopbackTarget } from "./backends/types.js";

export interface ProbeSpec {
  path: string;
  port: number;
  readyTimeoutMs: number;
  probeTimeoutMs: number;
  probePeriodMs: number;
  successThreshold: number;
}

/**
 * Polls `HTTP GET path` on the instance until `successThreshold` consecutive 2xx/3xx answers, or until
 * `readyTimeoutMs` passes (resolves false). Any status below 400 counts as ready, like Kubernetes.
 */
export async function waitUntilReady(
  resolve: () => LoopbackTarget | undefined,
  spec: ProbeSpec,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + spec.readyTimeoutMs;
  let successes = 0;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const target = resolve();
    if (target) {
      try {
        const res = await request(probeUrl(target, spec.path), {
          method: "GET",
          signal: AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, spec.probeTimeoutMs))]),
        });
        await res.body.dump();
        successes = res.statusCode < 400 ? successes + 1 : 0;
      } catch {
        signal.throwIfAborted();
        successes = 0;
      }
      if (successes >= Math.max(1, spec.successThreshold)) return true;
    }
    const wait = Math.max(10, Math.min(spec.probePeriodMs, deadline - Date.now()));
    await sleep(wait);
  }
  return false;
}

/**
 * The probe's URL on the sandbox. The path is joined to the sandbox's origin, never pasted after it: a
 * `Path` such as `@evil:80/x` or `//evil/x` would otherwise name another host.
 */
export function probeUrl(target: LoopbackTarget, path: string): string {
  const origin = `http://${target.host}:${target.port}`;
  const url = new URL(
    path.startsWith("/") && !path.startsWith("//") ? path : `/${path.replace(/^\/+/, "")}`,
    origin,
  );
  if (url.origin !== origin) throw new Error(`probe path ${JSON.stringify(path)} leaves the sandbox`);
  return url.href;
}
