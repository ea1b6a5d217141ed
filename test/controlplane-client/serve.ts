/**
 * A real `swerex serve` for the client tests and the benchmark: the control-plane tests' process helper
 * (../controlplane/serve.ts) with one API key, its own data directory and service id, at the default log
 * level (what a user runs); `stop()` also removes the data directory.
 */
import { randomUUID } from "node:crypto";
import { newDataDir, startServe as startServeProcess, testServiceId } from "../controlplane/serve.js";

export interface RunningServe {
  url: string;
  apiKey: string;
  pid: number;
  /** Everything the service printed so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServe(
  opts: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningServe> {
  const data = await newDataDir();
  const apiKey = `sk-test-${randomUUID()}`;
  try {
    const proc = await startServeProcess({
      dataDir: data.dir,
      keys: [apiKey],
      serviceId: testServiceId(),
      args: ["--log_level", "info", ...(opts.args ?? [])],
      ...(opts.env ? { env: opts.env } : {}),
    });
    return {
      url: proc.url,
      apiKey,
      pid: proc.pid,
      output: proc.output,
      stop: async (signal) => {
        await proc.stop(signal);
        await data.remove();
      },
    };
  } catch (err) {
    await data.remove();
    throw err;
  }
}
