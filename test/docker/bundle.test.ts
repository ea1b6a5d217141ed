/**
 * The runtime bundle serves a full session in images that have nothing of ours: a busybox-only image (no
 * node, no bash, no libc) and a Debian image with bash, git and python3. Plus `swerex bundle image`.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildBundleImage } from "../../src/bundle/image.js";
import { BUILD_ID_FILE } from "../../src/bundle/paths.js";
import type { DockerDeployment } from "../../src/deployment/docker/deployment.js";
import { followProgress } from "../../src/docker/engine.js";
import {
  busyboxImage,
  debianImage,
  describeDocker,
  docker,
  fileLabel,
  progressLog,
  removeContainersWithLabel,
  testBundle,
  testDeployment,
} from "./fixtures.js";

const label = fileLabel();
let bundleDir = "";
let busybox = "";
let debian = "";
const deployments: DockerDeployment[] = [];

async function startIn(image: string): Promise<DockerDeployment> {
  const d = testDeployment({ image, bundleDir, labels: label.labels });
  deployments.push(d);
  await d.start();
  return d;
}

/** The common part: a bash session, exit codes, and file I/O through the runtime. */
async function fullSession(d: DockerDeployment): Promise<void> {
  const rt = d.runtime;
  await rt.createSession({ session: "main" });
  expect(await rt.runInSession({ session: "main", command: "echo hello" })).toMatchObject({
    output: "hello\n",
    exit_code: 0,
  });
  await rt.runInSession({ session: "main", command: "cd /tmp && export GREETING=hi" });
  expect((await rt.runInSession({ session: "main", command: "echo $GREETING $(pwd)" })).output).toBe(
    "hi /tmp\n",
  );
  expect((await rt.runInSession({ session: "main", command: "(exit 3)", check: "silent" })).exit_code).toBe(
    3,
  );
  await rt.closeSession({ session: "main" });

  expect(await rt.execute({ command: "echo out; echo err >&2; exit 7", shell: true })).toEqual({
    stdout: "out\n",
    stderr: "err\n",
    exit_code: 7,
  });
  await rt.writeFile({ path: "/tmp/dir/note.txt", content: "line 1\nline 2\n" });
  expect(await rt.readFile({ path: "/tmp/dir/note.txt" })).toEqual({ content: "line 1\nline 2\n" });
  expect((await rt.execute({ command: "cat /tmp/dir/note.txt", shell: true })).stdout).toBe(
    "line 1\nline 2\n",
  );
}

// Generous: many engineers\' test runs share two cores; nothing here asserts speed.
describeDocker("runtime bundle in foreign images (real engine)", { timeout: 180_000 }, () => {
  // The Debian image is built by debootstrap on first use on a machine (about two minutes); later runs reuse it.
  beforeAll(async () => {
    [bundleDir, busybox, debian] = await Promise.all([testBundle(), busyboxImage(), debianImage()]);
  }, 15 * 60_000);

  afterAll(async () => {
    await Promise.allSettled(deployments.map((d) => d.stop()));
    expect(await removeContainersWithLabel(label.filter)).toBe(0);
  });

  it("busybox image without node or bash: full session with the bundled bash", async () => {
    const d = await startIn(busybox);
    try {
      // The image itself has neither node nor bash; the session's bash is ours.
      expect(
        (await d.runtime.execute({ command: "ls /bin/bash /usr/bin/node 2>&1; echo rc=$?", shell: true }))
          .stdout,
      ).toMatch(/rc=1\n$/);
      await d.runtime.createSession({ session: "probe" });
      const bash = await d.runtime.runInSession({
        session: "probe",
        command: "echo $BASH_VERSION; echo $SWEREX_BASH",
      });
      expect(bash.output).toMatch(/^5\.\d+\.\d+\(\d+\)-release\n\/nix\/swerex\/shell\/bash\n$/);
      await fullSession(d);
    } finally {
      await d.stop();
    }
  });

  it("Debian image with bash, git and python3: full session with the image's own bash", async () => {
    const d = await startIn(debian);
    try {
      await fullSession(d);
      const r = await d.runtime.execute({
        command: `command -v bash; python3 -c 'print(6*7)'; git --version >/dev/null && echo git-ok; echo \${SWEREX_BASH:-unset}`,
        shell: true,
      });
      expect(r).toMatchObject({ stdout: "/usr/bin/bash\n42\ngit-ok\nunset\n", exit_code: 0 });
    } finally {
      await d.stop();
    }
  });

  it("runtime_mount=none runs the server an image holds at /nix/swerex", async () => {
    const tag = `swerex-test/busybox-with-bundle:${process.pid}`;
    const bundle = await testBundle();
    const context = dirname(bundle);
    const dockerfileName = `.Dockerfile.swerex-test-${process.pid}`;
    await writeFile(join(context, dockerfileName), `FROM ${busybox}\nCOPY ${basename(bundle)} /nix/swerex\n`);
    try {
      const stream = await docker.buildImage(
        { context, src: [dockerfileName, basename(bundle)] },
        { t: tag, dockerfile: dockerfileName, rm: true, forcerm: true },
      );
      await followProgress(docker, stream);
      const d = testDeployment({ image: tag, bundleDir, labels: label.labels }, { runtime_mount: "none" });
      deployments.push(d);
      await d.start();
      await fullSession(d);
      await d.stop();
    } finally {
      await rm(join(context, dockerfileName), { force: true });
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
    }
  });

  it("swerex bundle image: a local image with the bundle at /nix/swerex", async () => {
    const tag = `swerex-runtime:test-${process.pid}`;
    const { bundle } = await buildBundleImage({ tag, onProgress: progressLog().onProgress });
    const created = await docker.createContainer({
      Image: tag,
      Cmd: ["/nix/swerex/run-swerex"],
      Labels: label.labels,
    });
    try {
      const info = await docker.getImage(tag).inspect();
      expect(info.Config.Labels?.["swerex.bundle.build-id"]).toBe(bundle.buildId);
      for (const path of [
        "/nix/swerex/run-swerex",
        "/nix/swerex/bin/node",
        "/nix/swerex/lib/ld-linux-x86-64.so.2",
      ]) {
        const archive = await created.getArchive({ path });
        archive.resume();
      }
      const tar = await streamToBuffer(await created.getArchive({ path: `/nix/swerex/${BUILD_ID_FILE}` }));
      const size = Number.parseInt(tar.subarray(124, 136).toString().trim(), 8);
      const content = tar.subarray(512, 512 + size).toString();
      expect(content).toBe(await readFile(join(bundle.dir, BUILD_ID_FILE), "utf8"));
    } finally {
      await created.remove({ force: true });
      await docker.getImage(tag).remove({ force: true });
    }
  });
});

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}
