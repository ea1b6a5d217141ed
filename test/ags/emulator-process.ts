/**
 * The AGS emulator in a process of its own, at a higher scheduling priority than the code under test.
 *
 * Why: the emulator stamps each API call's arrival to count its sliding one-second rate window, as the real
 * AGS does. The real AGS is a dedicated server whose stamps do not depend on our load; an emulator inside a
 * loaded test process stamps late whenever that process is starved of the CPU (two cores shared with the
 * service replicas, the test runner and other jobs), and a late stamp followed by an on-time one squeezes
 * the window exactly as if our pacer had sent too fast. Running it as `nice -n -10` (root, as the tests
 * and CI are; otherwise `nice` warns and it runs at the normal priority) keeps its stamps near the true
 * arrival times. The emulator itself is unchanged and exactly as strict.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { AgsEmulatorOptions } from "../../src/emulator/ags/index.js";

/** Scheduling priority of the emulator process (negative: ahead of the replicas and the test runner). */
const EMULATOR_NICE = -10;
const START_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 60_000;
const MAIN = join(import.meta.dirname, "emulator-process-main.ts");
const ROOT = join(import.meta.dirname, "../..");

export interface EmulatorState {
  limitedCounts: Record<string, number>;
  callCounts: Record<string, number>;
  instances: { InstanceId: string; Status: string }[];
}

export interface EmulatorProcess {
  endpoint: string;
  domain: string;
  pid: number;
  state(): Promise<EmulatorState>;
  /** Instances not stopping or stopped. */
  liveInstances(): Promise<EmulatorState["instances"]>;
  /** Stops every instance and the process (waits for its exit). */
  close(): Promise<void>;
}

type Options = Pick<
  AgsEmulatorOptions,
  "defaultRateLimit" | "rateLimits" | "instanceQuota" | "latency" | "sweepIntervalMs"
>;

export async function startEmulatorProcess(opts: Options = {}): Promise<EmulatorProcess> {
  const child: ChildProcess = spawn(
    "nice",
    ["-n", String(EMULATOR_NICE), process.execPath, "--import", "tsx", MAIN, JSON.stringify(opts)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe", "ipc"] },
  );
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pending = new Map<number, (s: EmulatorState) => void>();
  let nextId = 0;

  const ready = await new Promise<{ endpoint: string; domain: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`AGS emulator process did not start within ${START_TIMEOUT_MS} ms: ${output}`));
    }, START_TIMEOUT_MS);
    child.on(
      "message",
      (msg: { ready?: { endpoint: string; domain: string }; id?: number; state?: EmulatorState }) => {
        if (msg.ready) {
          clearTimeout(timer);
          resolve(msg.ready);
        } else if (msg.id !== undefined && msg.state) {
          pending.get(msg.id)?.(msg.state);
          pending.delete(msg.id);
        }
      },
    );
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`AGS emulator process exited before it was ready: ${output}`));
    });
  });

  const state = () =>
    new Promise<EmulatorState>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`AGS emulator process did not answer within ${QUERY_TIMEOUT_MS} ms`));
      }, QUERY_TIMEOUT_MS);
      pending.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      child.send({ id, op: "state" });
    });

  return {
    ...ready,
    pid: child.pid as number,
    state,
    liveInstances: async () =>
      (await state()).instances.filter((i) => !/^STOPP(ING|ED)$/.test(String(i.Status))),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ id: -1, op: "close" });
      const killer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(killer);
    },
  };
}
