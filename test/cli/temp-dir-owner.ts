/**
 * Child process for reap.test.ts: opens a bash session and starts a long `execute`, so that both kinds of
 * private temp directories exist, prints "ready", and waits to be killed.
 */
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalRuntime } from "../../src/runtime/local/index.js";
import { OWNER_MARKER } from "../../src/runtime/local/temp-dirs.js";

const rt = new LocalRuntime();
await rt.createSession({ session: "s", startup_timeout: 60 });
// Runs until this process is gone (then it ends by itself: nothing outlives the test).
const untilParentDies = "while kill -0 $PPID 2>/dev/null; do sleep 0.2; done";
void rt.execute({ command: ["sh", "-c", untilParentDies], timeout: 150 }).catch(() => {});
// `execute` makes its directory asynchronously, and marks it just after: ready once the marker is there (a
// kill between the two leaves an unmarked directory, which reap rightly leaves alone). The test's deadline
// bounds this wait.
const marked = () =>
  readdirSync(tmpdir()).some(
    (n) => n.startsWith("swerex-exec-") && existsSync(join(tmpdir(), n, OWNER_MARKER)),
  );
while (!marked()) {
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write("ready\n");
setInterval(() => {}, 60_000);
