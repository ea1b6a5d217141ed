/**
 * 100 deployments at once against an emulator that limits every action to 20 requests/s and fails 10% of
 * all calls with InternalError: every deployment must reach alive, with one tool and no duplicate instance.
 * Only on the in-process local backend: what is under test is the control-plane client (pacing, retries,
 * batched polling, tool sharing), and 100 containers each running node on this 2-core machine would measure
 * the engine, not us. The docker backend is covered per deployment in lifecycle/resilience/cli-run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetSharedAgsClients } from "../../src/deployment/ags/client.js";
import { TencentAGSDeployment } from "../../src/deployment/ags/deployment.js";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { emulatorConfig, inProcessBackend, startEmulator } from "./emulator-helpers.js";

const N = 100;
const ACTIONS = [
  "CreateSandboxTool",
  "DescribeSandboxToolList",
  "StartSandboxInstance",
  "DescribeSandboxInstanceList",
  "StopSandboxInstance",
  "AcquireSandboxInstanceToken",
];

let emu: AgsEmulator;
const deployments: TencentAGSDeployment[] = [];

beforeAll(async () => {
  resetSharedAgsClients();
  emu = await startEmulator({
    backend: inProcessBackend(),
    defaultRateLimit: 20,
    instanceQuota: 1000,
    faults: { errorRate: Object.fromEntries(ACTIONS.map((a) => [a, 0.1])) },
  });
});
afterAll(async () => {
  await Promise.allSettled(deployments.map((d) => d.stop()));
  resetSharedAgsClients();
  await emu?.close();
});

describe("AGS at scale (emulator)", () => {
  it(`${N} concurrent deployments under 20 req/s and 10% InternalError all reach alive, sharing one tool`, async () => {
    const dispatcher = emu.dispatcher();
    for (let i = 0; i < N; i++) {
      deployments.push(
        new TencentAGSDeployment(emulatorConfig(emu, { startup_timeout: 240 }), {
          dispatcher,
          pollIntervalMs: 250,
        }),
      );
    }
    const results = await Promise.allSettled(deployments.map((d) => d.start()));
    const failures = results
      .filter((r) => r.status === "rejected")
      .map((r) => String((r as PromiseRejectedResult).reason));
    expect(failures).toEqual([]);

    const alive = await Promise.all(deployments.map((d) => d.isAlive({ timeoutMs: 30_000 })));
    expect(alive.every((a) => a.is_alive)).toBe(true);

    const instances = emu.listInstances();
    expect(instances).toHaveLength(N);
    expect(new Set(deployments.map((d) => d.instanceId)).size).toBe(N);
    expect(instances.every((i) => i.Status === "RUNNING")).toBe(true);
    const tools = emu.listTools();
    expect(tools).toHaveLength(1);
    expect(new Set(deployments.map((d) => d.toolId))).toEqual(new Set([tools[0]?.ToolId]));
    // Faults were really injected and retried: more calls than the fault-free minimum.
    const calls = emu.callCounts();
    expect((calls.StartSandboxInstance ?? 0) + (calls.AcquireSandboxInstanceToken ?? 0)).toBeGreaterThan(
      2 * N,
    );

    // Stops go through the same 10% faults and are retried.
    await Promise.all(deployments.map((d) => d.stop()));
    expect(emu.listInstances().every((i) => i.Status === "STOPPING" || i.Status === "STOPPED")).toBe(true);
  }, 300_000);
});
