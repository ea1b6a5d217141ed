/** LocalRuntime.execute, readFile, writeFile and upload beyond the conformance suite. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CommandTimeoutError,
  FileExistsError,
  FileNotFoundError,
  IsADirectoryError,
  LookupError,
  NonZeroExitCodeError,
  NotADirectoryError,
  UnicodeDecodeError,
} from "../../../src/runtime/errors.js";
import { LocalRuntime } from "../../../src/runtime/local/index.js";
import { processesLeft, processesWith } from "./procs.js";

const rt = new LocalRuntime();
let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "swerex-local-exec-"));
});
afterAll(async () => {
  await rt.close();
  await rm(tmp, { recursive: true, force: true });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe("execute", () => {
  it("env replaces the whole environment", async () => {
    const r = await rt.execute({ command: ["/usr/bin/env"], env: { ONLY: "this" } });
    expect(r.stdout).toBe("ONLY=this\n");
  });

  it("runs in cwd", async () => {
    expect((await rt.execute({ command: ["pwd"], cwd: tmp })).stdout).toBe(`${tmp}\n`);
  });

  it("a missing cwd is FileNotFoundError, a file as cwd NotADirectoryError", async () => {
    const missing = join(tmp, "nope");
    const err = await rt.execute({ command: ["true"], cwd: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileNotFoundError);
    expect((err as Error).message).toBe(`[Errno 2] No such file or directory: '${missing}'`);
    const file = join(tmp, "plain-file");
    await writeFile(file, "");
    await expect(rt.execute({ command: ["true"], cwd: file })).rejects.toBeInstanceOf(NotADirectoryError);
  });

  it("a missing program is FileNotFoundError with Python's message", async () => {
    const err = await rt.execute({ command: "echo hi" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileNotFoundError);
    expect((err as Error).message).toBe("[Errno 2] No such file or directory: 'echo hi'");
  });

  it("stdin is /dev/null, so readers do not hang", async () => {
    const r = await rt.execute({ command: ["cat"], timeout: 30 });
    expect(r).toEqual({ stdout: "", stderr: "", exit_code: 0 });
  });

  it("merged streams keep their order", async () => {
    const r = await rt.execute({
      command: "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
      shell: true,
      merge_output_streams: true,
    });
    expect(r.stdout).toBe("out1\nerr1\nout2\nerr2\nout3\nerr3\n");
    expect(r.stderr).toBe("");
  });

  it("a shell list command gets extra argv as positional parameters", async () => {
    const r = await rt.execute({ command: ["echo $0 $1", "zero", "one"], shell: true });
    expect(r.stdout).toBe("zero one\n");
  });

  it("invalid UTF-8 is backslash-escaped", async () => {
    const r = await rt.execute({ command: "printf 'a\\377b'; printf '\\376' >&2", shell: true });
    expect(r.stdout).toBe("a\\xffb");
    expect(r.stderr).toBe("\\xfe");
  });

  it("a signal death is a negative exit code, as in Python", async () => {
    const r = await rt.execute({ command: "kill -9 $$", shell: true });
    expect(r.exit_code).toBe(-9);
  });

  it("check with an argv command uses Python's list repr", async () => {
    const err = await rt
      .execute({ command: ["sh", "-c", 'printf "it\'s"; exit 2'], check: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonZeroExitCodeError);
    expect((err as Error).message).toBe(
      `Command ['sh', '-c', 'printf "it\\'s"; exit 2'] failed with exit code 2. Stdout:\n"it's"\nStderr:\n''`,
    );
  });

  it("a timeout kills the whole process group and keeps the partial output", async () => {
    const pidFile = join(tmp, "grandchild.pid");
    const err = await rt
      .execute({
        command: `sleep 60 & echo $! > ${pidFile}; echo started; echo warn >&2; wait`,
        shell: true,
        timeout: 1,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect((err as Error).message).toBe("Timeout (1.0s) exceeded while running command");
    expect((err as CommandTimeoutError).extraInfo).toEqual({ stdout: "started\n", stderr: "warn\n" });
    const grandchild = Number((await readFile(pidFile, "utf8")).trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(await waitUntil(() => !isRunning(grandchild), 10_000)).toBe(true);
  });

  it("returns when the command exits, even if a background child keeps the output open", async () => {
    const pidFile = join(tmp, "daemon.pid");
    const r = await rt.execute({
      command: `sleep 60 & echo $! > ${pidFile}; echo parent done`,
      shell: true,
      timeout: 30,
    });
    expect(r.stdout).toBe("parent done\n");
    const daemon = Number((await readFile(pidFile, "utf8")).trim());
    process.kill(daemon, "SIGKILL");
  });

  it("close() kills a running execute", async () => {
    const local = new LocalRuntime();
    const pending = local.execute({ command: ["sleep", "60"] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await local.close();
    const err = await pending;
    expect((err as Error).message).toBe("execute aborted: the runtime was closed");
  });

  it("close() leaves no process of a running execute behind (a bash agent's `timeout` wrapper)", async () => {
    const local = new LocalRuntime();
    const tag = `${process.pid}${Date.now() % 100_000}`;
    const marks = [`1000.${tag}1`, `1000.${tag}2`];
    const script = `exec timeout -k 5 900 bash -c 'sleep ${marks[1]} & sleep ${marks[0]}; wait'`;
    const pending = local.execute({ command: ["bash", "-c", script], timeout: 900 }).catch((e: unknown) => e);
    const deadline = Date.now() + 30_000;
    while ((await processesWith(marks)).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await processesWith(marks)).toHaveLength(2);
    await local.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(await processesLeft(marks)).toEqual([]);
  });
});

describe("read_file / write_file", () => {
  const bytes = async (name: string, data: Uint8Array | string) => {
    const p = join(tmp, name);
    await writeFile(p, data);
    return p;
  };

  it("reads with universal newlines, as Python's text mode does", async () => {
    const p = await bytes("crlf.txt", "a\r\nb\rc\n");
    expect((await rt.readFile({ path: p })).content).toBe("a\nb\nc\n");
  });

  it("encoding latin-1 and ascii", async () => {
    const p = await bytes("latin.txt", Uint8Array.of(0x63, 0x61, 0x66, 0xe9));
    expect((await rt.readFile({ path: p, encoding: "latin-1" })).content).toBe("café");
    const err = await rt.readFile({ path: p, encoding: "ascii" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnicodeDecodeError);
    expect((err as Error).message).toBe(
      "'ascii' codec can't decode byte 0xe9 in position 3: ordinal not in range(128)",
    );
  });

  it("errors strict / replace / backslashreplace for UTF-8", async () => {
    const p = await bytes("bad.txt", Uint8Array.of(0x61, 0xff, 0x62));
    const err = await rt.readFile({ path: p }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnicodeDecodeError);
    expect((err as UnicodeDecodeError).classPath).toBe("builtins.UnicodeDecodeError");
    expect((err as Error).message).toBe(
      "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte",
    );
    expect((await rt.readFile({ path: p, errors: "replace" })).content).toBe("a\ufffdb");
    expect((await rt.readFile({ path: p, errors: "backslashreplace" })).content).toBe("a\\xffb");
  });

  it("an unknown encoding is LookupError", async () => {
    const p = await bytes("any.txt", "x");
    await expect(rt.readFile({ path: p, encoding: "klingon" })).rejects.toBeInstanceOf(LookupError);
  });

  it("reading a directory is IsADirectoryError", async () => {
    const err = await rt.readFile({ path: tmp }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsADirectoryError);
    expect((err as Error).message).toBe(`[Errno 21] Is a directory: '${tmp}'`);
  });

  it("write_file overwrites and writes UTF-8", async () => {
    const p = join(tmp, "w.txt");
    await rt.writeFile({ path: p, content: "old content" });
    await rt.writeFile({ path: p, content: "né" });
    expect(await readFile(p)).toEqual(Buffer.from("né", "utf8"));
  });
});

describe("upload (local copy)", () => {
  it("a file into an existing directory keeps its name", async () => {
    const src = join(tmp, "up.txt");
    await writeFile(src, "payload");
    const dir = join(tmp, "into");
    await mkdir(dir);
    await rt.upload({ source_path: src, target_path: dir });
    expect(await readFile(join(dir, "up.txt"), "utf8")).toBe("payload");
  });

  it("a file to a path whose parents do not exist", async () => {
    const src = join(tmp, "up2.txt");
    await writeFile(src, "p2");
    const target = join(tmp, "new", "parents", "up2.txt");
    await rt.upload({ source_path: src, target_path: target });
    expect(await readFile(target, "utf8")).toBe("p2");
  });

  it("a nested directory, copied whole", async () => {
    const src = join(tmp, "tree");
    await mkdir(join(src, "a", "b"), { recursive: true });
    await writeFile(join(src, "a", "b", "leaf.txt"), "leaf");
    const target = join(tmp, "tree-copy");
    await rt.upload({ source_path: src, target_path: target });
    expect(await readFile(join(target, "a", "b", "leaf.txt"), "utf8")).toBe("leaf");
  });

  it("a directory onto an existing path is FileExistsError (copytree)", async () => {
    const src = join(tmp, "tree2");
    await mkdir(src);
    const target = join(tmp, "exists");
    await mkdir(target);
    await expect(rt.upload({ source_path: src, target_path: target })).rejects.toBeInstanceOf(
      FileExistsError,
    );
  });

  it("a missing source is FileNotFoundError", async () => {
    await expect(
      rt.upload({ source_path: join(tmp, "ghost"), target_path: join(tmp, "x") }),
    ).rejects.toBeInstanceOf(FileNotFoundError);
  });
});
