/**
 * Test images built on this machine (no registry): a busybox-only image with no node, bash or libc, and a
 * Debian bookworm image with bash, git and python3 made by debootstrap. Each is cached by tag, so it is
 * built once per machine; a lock directory keeps parallel test files from building the same one twice.
 * Also used by bench/deployment.ts.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { followProgress, imageExists } from "../../src/docker/engine.js";

export const BUSYBOX_IMAGE = "swerex-test/busybox:1";
export const DEBIAN_IMAGE = "swerex-test/debian-bookworm:1";

const LOCK_ROOT = join(tmpdir(), "swerex-test-image-locks");

function runChecked(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], timeout: timeoutMs });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on("error", reject);
    child.on("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(" ")} failed (${code ?? signal}):\n${err}`)),
    );
  });
}

/** `tar -C dir -c .` streamed into `docker import` with the given Dockerfile-style changes. */
async function importRootfs(docker: Docker, dir: string, tag: string, changes: string[]): Promise<void> {
  const tar = spawn("tar", ["-C", dir, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
  const [repo, version] = tag.split(":");
  const stream = await docker.importImage(tar.stdout, { repo, tag: version, changes } as object);
  await followProgress(docker, stream);
  await new Promise<void>((resolve, reject) =>
    tar.exitCode !== null
      ? tar.exitCode === 0
        ? resolve()
        : reject(new Error(`tar exited ${tar.exitCode}`))
      : tar.on("close", (c) => (c === 0 ? resolve() : reject(new Error(`tar exited ${c}`)))),
  );
}

/** Runs `build` once per machine for `tag`; other callers wait for the image (up to `timeoutMs`). */
async function buildOnce(
  docker: Docker,
  tag: string,
  timeoutMs: number,
  build: () => Promise<void>,
): Promise<void> {
  if (await imageExists(docker, tag)) return;
  await mkdir(LOCK_ROOT, { recursive: true });
  const lock = join(LOCK_ROOT, tag.replace(/[^A-Za-z0-9._-]/g, "_"));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // Someone else builds it; a lock older than the deadline belonged to a builder that died.
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > timeoutMs) await rm(lock, { recursive: true, force: true });
      if (await imageExists(docker, tag)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for another process to build ${tag}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (!(await imageExists(docker, tag))) await build();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** busybox-static with its applet links: `sh` and coreutils, and nothing else (no node, bash or libc). */
export async function ensureBusyboxImage(docker: Docker): Promise<string> {
  await buildOnce(docker, BUSYBOX_IMAGE, 120_000, async () => {
    const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
    if (!busybox) throw new Error("busybox-static is not installed (apt-get install busybox-static)");
    const root = await mkdtemp(join(tmpdir(), "swerex-bb-"));
    try {
      for (const d of ["bin", "tmp", "etc", "root", "proc", "sys", "dev"]) await mkdir(join(root, d));
      await chmod(join(root, "tmp"), 0o1777);
      await copyFile(busybox, join(root, "bin", "busybox"));
      await chmod(join(root, "bin", "busybox"), 0o755);
      const applets = await listBusyboxApplets(busybox);
      for (const a of applets) if (a !== "busybox") await symlink("busybox", join(root, "bin", a));
      await writeFile(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
      await writeFile(join(root, "etc", "group"), "root:x:0:\n");
      await importRootfs(docker, root, BUSYBOX_IMAGE, ["ENV PATH=/bin", 'CMD ["/bin/sh"]']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  return BUSYBOX_IMAGE;
}

function listBusyboxApplets(busybox: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(busybox, ["--list"], { stdio: ["ignore", "pipe", "inherit"], timeout: 10_000 });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", () => resolve(out.split("\n").filter(Boolean)));
  });
}

/** Debian bookworm minbase + bash, git, python3 from deb.debian.org (apt mirrors are reachable; registries are not). */
export async function ensureDebianImage(docker: Docker): Promise<string> {
  await buildOnce(docker, DEBIAN_IMAGE, 15 * 60_000, async () => {
    if (!existsSync("/usr/sbin/debootstrap")) {
      throw new Error(
        "debootstrap is not installed (apt-get install debootstrap; .ci/start-docker.sh does it)",
      );
    }
    const root = await mkdtemp(join(tmpdir(), "swerex-debian-"));
    try {
      await runChecked(
        "debootstrap",
        ["--variant=minbase", "--include=bash,git,python3", "bookworm", root, "http://deb.debian.org/debian"],
        12 * 60_000,
      );
      // Documentation and apt lists only make the image bigger.
      for (const d of [
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "var/lib/apt/lists",
        "var/cache/apt",
      ]) {
        const p = join(root, d);
        for (const e of await readdir(p).catch(() => [] as string[]))
          await rm(join(p, e), { recursive: true, force: true });
      }
      await importRootfs(docker, root, DEBIAN_IMAGE, [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["/bin/bash"]',
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  return DEBIAN_IMAGE;
}
