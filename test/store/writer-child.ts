/**
 * Helper process for the SIGKILL durability test: opens the store at argv[2] and writes until killed. Each
 * sandbox is inserted (with a metadata index row, so a transaction) and then updated to `running`; after
 * each write resolves it prints `ack <id> <state>`, the promise the test checks after the kill.
 * Usage: node --import tsx test/store/writer-child.ts <sqlite:PATH> <owner>
 */
import { createStore } from "../../src/store/index.js";

const [url = "", owner = ""] = process.argv.slice(2);
const store = await createStore(url);
await store.migrate();
for (let i = 0; ; i++) {
  const id = `sbx-${owner}-${i}`;
  await store.insertSandbox({
    id,
    owner,
    state: "starting",
    backend: "dummy",
    deployment: { type: "dummy" },
    handle: null,
    metadata: { writer: "child", n: String(i) },
    pool: null,
    host: null,
    starter: null,
    error: null,
    created_at: Date.now(),
    started_at: null,
    stopped_at: null,
    expires_at: null,
  });
  process.stdout.write(`ack ${id} starting\n`);
  await store.updateSandbox(id, { state: "running", started_at: Date.now() }, 1);
  process.stdout.write(`ack ${id} running\n`);
}
