/** Whether a sandbox's swerex-remote answers `/is_alive` (through the existing RemoteRuntime client). */
import { Agent, type Dispatcher } from "undici";
import { RemoteRuntime } from "../../runtime/index.js";
import type { RuntimeTarget } from "./types.js";

/** One probe may take this long: reconciliation and adoption probe every live sandbox once. */
export const PROBE_TIMEOUT_MS = 5000;

let shared: Dispatcher | undefined;
function probeDispatcher(): Dispatcher {
  shared ??= new Agent({ keepAliveTimeout: 1000, headersTimeout: 0, bodyTimeout: 0 });
  return shared;
}

/** `dispatcher`: the connections to use (default: one shared pool that keeps them only briefly). */
export async function runtimeAnswers(
  target: RuntimeTarget,
  timeoutMs = PROBE_TIMEOUT_MS,
  dispatcher?: Dispatcher,
): Promise<boolean> {
  const runtime = new RemoteRuntime({
    host: target.url,
    auth_token: "",
    headers: target.headers,
    num_retries: 0,
    dispatcher: dispatcher ?? probeDispatcher(),
  });
  const res = await runtime.isAlive({ timeoutMs });
  return res.is_alive;
}
