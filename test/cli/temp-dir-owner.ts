/**
 * Child process for reap.test.ts: opens a bash session and starts a long `execute`, so that both kinds of
 * private temp directories exist, prints "ready", and waits to be killed.
 */
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { LocalRuntime } from "../../src/runtime/local/index.js";

const rt = new LocalRuntime();
await rt.createSession({ session: "s", startup_timeout: 60 });
// Runs until this process is gone (then it ends by itself: nothing outlives the test).
const untilParentDies = "while kill -0 $PPID 2>/dev/null; do sleep 0.2; done";
void rt.execute({ command: ["sh", "-c", untilParentDies], timeout: 150 }).catch(() => {});
// `execute` makes its directory asynchronously: ready once it is there (the test's deadline bounds this).
while (!readdirSync(tmpdir()).some((n) => n.startsWith("swerex-exec-"))) {
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write("ready\n");
setInterval(() => {}, 60_000);
