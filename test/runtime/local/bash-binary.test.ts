/** Which bash runs sessions and the `bash -n` check: `$SWEREX_BASH`, else `bash` on PATH. */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBash, LocalRuntime } from "../../../src/runtime/local/index.js";

let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "swerex-bash-binary-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("findBash", () => {
  it("prefers SWEREX_BASH", () => {
    expect(findBash({ SWEREX_BASH: "/opt/swerex/bin/bash", PATH: "/usr/bin" })).toBe("/opt/swerex/bin/bash");
  });

  it("looks bash up on PATH, in order", async () => {
    const fake = join(tmp, "bin");
    await import("node:fs/promises").then((fs) => fs.mkdir(fake, { recursive: true }));
    await writeFile(join(fake, "bash"), "#!/bin/sh\n");
    await chmod(join(fake, "bash"), 0o755);
    expect(findBash({ PATH: `/nonexistent:${fake}:/usr/bin` })).toBe(join(fake, "bash"));
  });

  it("fails clearly when there is no bash", () => {
    expect(() => findBash({ PATH: "/nonexistent" })).toThrow(/SWEREX_BASH/);
  });
});

describe("SWEREX_BASH", () => {
  it("runs both the session shell and the syntax check", async () => {
    const real = findBash();
    const log = join(tmp, "calls.log");
    const wrapper = join(tmp, "bash-wrapper");
    await writeFile(wrapper, `#!/bin/sh\nprintf "%s\\n" "$1" >> '${log}'\nexec '${real}' "$@"\n`);
    await chmod(wrapper, 0o755);
    const saved = process.env.SWEREX_BASH;
    process.env.SWEREX_BASH = wrapper;
    const rt = new LocalRuntime();
    try {
      await rt.createSession({ startup_timeout: 60 });
      // Quoted, so that it takes the check (plain words skip it: bash-plain.ts).
      expect((await rt.runInSession({ command: 'echo "ok"', timeout: 60 })).output).toBe("ok\n");
    } finally {
      await rt.close();
      if (saved === undefined) delete process.env.SWEREX_BASH;
      else process.env.SWEREX_BASH = saved;
    }
    // -c: the bootstrap that turns echo off; --rcfile: the interactive shell it execs (`--rcfile F -i`);
    // -n: the syntax check.
    expect((await readFile(log, "utf8")).split("\n").filter(Boolean)).toEqual(["-c", "--rcfile", "-n"]);
  });
});
