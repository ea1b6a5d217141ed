/** `/upload` end to end: RemoteRuntime.upload (file and zipped directory) into the server, and bad uploads. */
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { FileNotFoundError, PythonValueError } from "../../src/runtime/errors.js";
import { RemoteRuntime } from "../../src/runtime/remote.js";
import { type LoopbackServer, serveOnLoopback } from "./helpers.js";

const KEY = "upload-key";

describe("upload", () => {
  let server: LoopbackServer;
  let runtime: RemoteRuntime;
  let work: string;
  beforeAll(async () => {
    server = await serveOnLoopback(new DummyRuntime(), KEY);
    runtime = new RemoteRuntime({ auth_token: KEY, host: server.url });
    work = await mkdtemp(join(tmpdir(), "swerex-upload-test-"));
  });
  afterAll(async () => {
    await runtime?.dispose();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("uploads a file to target_path, creating missing parents", async () => {
    const src = join(work, "a.txt");
    await writeFile(src, "hello upload");
    const target = join(work, "out", "deep", "b.txt");
    expect(await runtime.upload({ source_path: src, target_path: target })).toEqual({});
    expect(await readFile(target, "utf8")).toBe("hello upload");
  });

  it("puts a file into target_path under its own name when target_path is an existing directory", async () => {
    const src = join(work, "named.txt");
    await writeFile(src, "named");
    const dir = join(work, "existing-dir");
    await mkdir(dir);
    await runtime.upload({ source_path: src, target_path: dir });
    expect(await readFile(join(dir, "named.txt"), "utf8")).toBe("named");
  });

  it("uploads a directory's contents (nested, empty dirs, executable bits) into target_path", async () => {
    const src = join(work, "tree");
    await mkdir(join(src, "sub", "deeper"), { recursive: true });
    await mkdir(join(src, "empty"));
    await writeFile(join(src, "file1.txt"), "one");
    await writeFile(join(src, "sub", "deeper", "file2.txt"), "two");
    await writeFile(join(src, "run.sh"), "#!/bin/sh\necho ok\n");
    await chmod(join(src, "run.sh"), 0o755);
    await symlink("file1.txt", join(src, "link.txt"));
    const target = join(work, "uploaded", "tree");
    await runtime.upload({ source_path: src, target_path: target });
    expect(await readFile(join(target, "file1.txt"), "utf8")).toBe("one");
    expect(await readFile(join(target, "sub", "deeper", "file2.txt"), "utf8")).toBe("two");
    expect(await readFile(join(target, "link.txt"), "utf8")).toBe("one");
    expect((await stat(join(target, "empty"))).isDirectory()).toBe(true);
    expect((await stat(join(target, "run.sh"))).mode & 0o777).toBe(0o755);
    expect((await stat(join(target, "file1.txt"))).mode & 0o111).toBe(0);
    expect(existsSync(join(target, "tree"))).toBe(false);
  });

  it("raises FileNotFoundError for a source that does not exist, without calling the server", async () => {
    await expect(
      runtime.upload({ source_path: join(work, "missing"), target_path: "/tmp/x" }),
    ).rejects.toBeInstanceOf(FileNotFoundError);
  });

  async function postForm(form: FormData, headers: Record<string, string> = {}) {
    const res = await request(`${server.url}/upload`, {
      method: "POST",
      headers: { "X-API-Key": KEY, ...headers },
      body: form,
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it("refuses a zip whose entries point outside the target (zip-slip) and writes nothing", async () => {
    const zip = zipSync({
      "ok.txt": new TextEncoder().encode("fine"),
      "../escaped.txt": new TextEncoder().encode("bad"),
    });
    const form = new FormData();
    form.append("file", new Blob([zip], { type: "application/zip" }), "zipped_transfer.zip");
    const target = join(work, "slip", "inside");
    form.append("target_path", target);
    form.append("unzip", "true");
    const r = await postForm(form);
    expect(r.status).toBe(511);
    const transfer = r.json.swerexception as { class_path: string; message: string };
    expect(transfer.class_path).toBe(PythonValueError.classPath);
    expect(transfer.message).toContain("../escaped.txt");
    expect(existsSync(join(work, "slip", "escaped.txt"))).toBe(false);
    expect(existsSync(join(target, "ok.txt"))).toBe(false);
  });

  it("runs a reused X-Request-ID with another file as a new upload, and a retry of the same one once", async () => {
    const form = (content: string, target: string) => {
      const f = new FormData();
      f.append("file", new Blob([content]), "f.txt");
      f.append("target_path", target);
      return f;
    };
    const headers = { "X-Request-ID": "upload-reused" };
    const a = join(work, "reuse", "a.txt");
    const b = join(work, "reuse", "b.txt");
    expect((await postForm(form("A", a), headers)).status).toBe(200);
    expect((await postForm(form("B", b), headers)).status).toBe(200);
    expect(await readFile(a, "utf8")).toBe("A");
    expect(await readFile(b, "utf8")).toBe("B");
    // A retry of the first (same file, same target) is answered from the cache: it does not write again.
    await rm(a);
    expect((await postForm(form("A", a), headers)).status).toBe(200);
    expect(existsSync(a)).toBe(false);
  });

  it("answers 422 naming target_path when it is missing, and unzip when it is not a boolean", async () => {
    const form = new FormData();
    form.append("file", new Blob(["x"]), "x.txt");
    form.append("unzip", "maybe");
    const r = await postForm(form);
    expect(r.status).toBe(422);
    expect(r.json).toEqual({
      detail: [
        { type: "missing", loc: ["body", "target_path"], msg: "Field required" },
        {
          type: "bool_parsing",
          loc: ["body", "unzip"],
          msg: "Input should be a valid boolean, unable to interpret input",
        },
      ],
    });
  });
});
