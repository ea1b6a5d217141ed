/**
 * Child side of {@link startEmulatorProcess}: an AGS emulator (in-process sandbox backend) in a process of
 * its own, driven over the Node IPC channel. Options arrive as JSON in argv[2]; the parent asks for the
 * emulator's counters with `{ id, op: "state" }` and gets `{ id, state }` back. It closes the emulator and
 * exits when the parent disconnects (or dies), so no instance outlives the test.
 */
import type { AgsEmulatorOptions } from "../../src/emulator/ags/index.js";
import { inProcessBackend, startEmulator } from "./emulator-helpers.js";

const opts = JSON.parse(process.argv[2] ?? "{}") as Partial<AgsEmulatorOptions>;
const emu = await startEmulator({ backend: inProcessBackend(), ...opts });

let closing: Promise<void> | undefined;
const shutdown = () => {
  closing ??= emu.close().finally(() => process.exit(0));
  return closing;
};
process.on("disconnect", shutdown);
process.on("SIGTERM", shutdown);

process.on("message", (msg: { id: number; op: string }) => {
  if (msg.op === "state") {
    const instances = emu.listInstances().map((i) => ({ InstanceId: i.InstanceId, Status: i.Status }));
    process.send?.({
      id: msg.id,
      state: { limitedCounts: emu.limitedCounts(), callCounts: emu.callCounts(), instances },
    });
  } else if (msg.op === "close") {
    void shutdown();
  }
});
process.send?.({ ready: { endpoint: emu.endpoint, domain: emu.domain } });
