/**
 * Builds the runtime bundle: `swerex-remote` as a directory that runs in any x86-64 Linux image without
 * installing anything. It holds our node binary with every shared library it needs and the dynamic loader,
 * node-pty, the esbuild-bundled server, and a bash for images that have none. The launcher starts node
 * through the bundled loader with `--library-path`, so the image's own programs never see our libraries.
 *
 * Layout (under `outDir`, by default build/bundle/swerex):
 *   run-swerex            launcher (POSIX sh)
 *   server.mjs            the bundled server
 *   bin/node              process.execPath
 *   lib/                  ld-linux-x86-64.so.2 and every library node, pty.node and bash link against
 *   node_modules/node-pty package.json, lib/*.js, build/Release/pty.node
 *   shell/bash            wrapper that runs libexec/bash through the bundled loader
 *   libexec/bash          the host's bash
 *   BUILD-ID              hash of the contents, so an up-to-date bundle is not rebuilt
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { BUILD_ID_FILE, defaultBundleDir, LAUNCHER_NAME, packageRoot } from "./paths.js";

const run = promisify(execFile);
const LOADER = "ld-linux-x86-64.so.2";
/** Bumped when the layout or the launcher changes, so old bundles are rebuilt. */
const LAYOUT_VERSION = "1";

export interface BuildBundleOptions {
  /** Output directory (default build/bundle/swerex under the package root). */
  outDir?: string;
  /** Server entry point to bundle with esbuild (default: src/cli/swerex-remote.ts, or the prebuilt server). */
  entry?: string;
  /** Rebuild even when BUILD-ID says the bundle is current. */
  force?: boolean;
  /** Progress lines for slow steps. */
  onProgress?: (message: string) => void;
}

export interface BundleInfo {
  dir: string;
  buildId: string;
  /** False when an up-to-date bundle was already there. */
  built: boolean;
}

/** The launcher: picks our bash only when the image has none, then runs node through our own loader. */
export const LAUNCHER_SCRIPT = `#!/bin/sh
# swerex runtime bundle launcher. Runs the bundled node through the bundled dynamic loader, so neither the
# image's libc nor LD_LIBRARY_PATH matter, and children (the image's own programs) never load our libraries.
D=\${0%/*}
if ! command -v bash >/dev/null 2>&1; then
  # No bash in the image: sessions use ours. Appended, so the image's programs always win.
  export SWEREX_BASH="$D/shell/bash"
  PATH="\${PATH:-/usr/bin:/bin}:$D/shell"; export PATH
fi
exec "$D/lib/${LOADER}" --library-path "$D/lib" "$D/bin/node" "$D/server.mjs" "$@"
`;

const BASH_WRAPPER = `#!/bin/sh
# bash from the swerex bundle, through the bundled loader (the image may have no compatible libc).
D=\${0%/*}/..
exec "$D/lib/${LOADER}" --library-path "$D/lib" "$D/libexec/bash" "$@"
`;

/** Absolute paths of the shared libraries (and the loader) `file` needs, as ldd reports them. */
export async function sharedLibraries(file: string): Promise<string[]> {
  const { stdout } = await run("ldd", [file], { timeout: 30_000 });
  const libs = new Set<string>();
  for (const line of stdout.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

/**
 * The bundled server for a build without an explicit entry: esbuild over the sources in a checkout; in an
 * installed package (no src/, no esbuild) the copy `npm run build` bundled into dist/bundle/server.mjs.
 */
async function defaultServer(root: string): Promise<{ server: string; from: string }> {
  const src = join(root, "src", "cli", "swerex-remote.ts");
  if (existsSync(src)) return { server: await bundleServer(src), from: relative(root, src) };
  const prebuilt = join(root, PREBUILT_SERVER);
  if (existsSync(prebuilt)) return { server: await readFile(prebuilt, "utf8"), from: PREBUILT_SERVER };
  throw new Error(
    `cannot build the runtime bundle: neither the sources (${src}) nor the prebuilt server (${prebuilt}) are here`,
  );
}

/** Where `npm run build` puts the bundled server, so an installed package needs no esbuild. */
export const PREBUILT_SERVER = join("dist", "bundle", "server.mjs");

/** The server as one ESM file; node-pty stays outside (it loads a native addon relative to itself). */
export async function bundleServer(entry: string): Promise<string> {
  const esbuild = await import("esbuild").catch((err: unknown) => {
    throw new Error("building the runtime bundle needs the 'esbuild' package (a dev dependency)", {
      cause: err,
    });
  });
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["node-pty"],
    write: false,
    logLevel: "silent",
    legalComments: "none",
    // CommonJS dependencies call require() on node built-ins; give the ESM output one.
    banner: {
      js: 'import { createRequire as __swerexCreateRequire } from "node:module"; const require = __swerexCreateRequire(import.meta.url);',
    },
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error("esbuild produced no output");
  return out.text;
}

/** node-pty's runtime files: package.json, its compiled JS (no tests) and the native addon. */
async function nodePtyFiles(): Promise<{ root: string; files: string[] }> {
  const require = createRequire(join(packageRoot(), "package.json"));
  const root = dirname(require.resolve("node-pty/package.json"));
  const files = ["package.json", join("build", "Release", "pty.node")];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else if (entry.name.endsWith(".js") && !entry.name.endsWith(".test.js")) files.push(rel);
    }
  };
  await walk("lib");
  return { root, files };
}

async function hostBash(): Promise<string> {
  for (const p of ["/bin/bash", "/usr/bin/bash"]) if (existsSync(p)) return p;
  throw new Error("the runtime bundle ships the host's bash, but there is no /bin/bash on this machine");
}

async function readBuildId(dir: string): Promise<string | undefined> {
  return readFile(join(dir, BUILD_ID_FILE), "utf8").then(
    (s) => s.trim(),
    () => undefined,
  );
}

async function fileDigest(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  const st = await stat(path);
  // Large binaries are identified by path, size and mtime; hashing 100 MB of node on every check is waste.
  hash.update(`${path}\0${st.size}\0${st.mtimeMs}\0`);
}

async function assemble(
  dir: string,
  server: string,
  pty: { root: string; files: string[] },
  bash: string,
  libs: string[],
  buildId: string,
): Promise<void> {
  await mkdir(join(dir, "bin"), { recursive: true });
  await mkdir(join(dir, "lib"));
  await mkdir(join(dir, "shell"));
  await mkdir(join(dir, "libexec"));
  await copyFile(process.execPath, join(dir, "bin", "node"));
  await chmod(join(dir, "bin", "node"), 0o755);
  await copyFile(bash, join(dir, "libexec", "bash"));
  await chmod(join(dir, "libexec", "bash"), 0o755);
  for (const lib of libs) {
    // The loader keeps its canonical name whatever path ldd showed it under (/lib64/...).
    const name = basename(lib).startsWith("ld-linux") ? LOADER : basename(lib);
    await copyFile(lib, join(dir, "lib", name));
    await chmod(join(dir, "lib", name), 0o755);
  }
  for (const rel of pty.files) {
    const target = join(dir, "node_modules", "node-pty", rel);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(join(pty.root, rel), target);
  }
  await writeFile(join(dir, "server.mjs"), server);
  await writeFile(join(dir, LAUNCHER_NAME), LAUNCHER_SCRIPT, { mode: 0o755 });
  await writeFile(join(dir, "shell", "bash"), BASH_WRAPPER, { mode: 0o755 });
  await writeFile(join(dir, BUILD_ID_FILE), `${buildId}\n`);
}

/** Removes bundles swapped out earlier; only old ones, since running containers may still mount them. */
async function removeStaleBundles(parent: string): Promise<void> {
  const horizon = Date.now() - 60 * 60 * 1000;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(".swerex-old-") && !name.startsWith(".swerex-tmp-")) continue;
    const st = await stat(join(parent, name)).catch(() => undefined);
    if (st && st.mtimeMs < horizon) await rm(join(parent, name), { recursive: true, force: true });
  }
}

const inFlight = new Map<string, Promise<BundleInfo>>();

/**
 * Builds the bundle unless `outDir` already holds one with the same contents. Safe to call from several
 * processes at once: each builds into a private directory and swaps it in with a rename.
 */
export function buildBundle(opts: BuildBundleOptions = {}): Promise<BundleInfo> {
  const outDir = opts.outDir ?? defaultBundleDir();
  const pending = inFlight.get(outDir);
  if (pending) return pending;
  const p = doBuild(outDir, opts).finally(() => inFlight.delete(outDir));
  inFlight.set(outDir, p);
  return p;
}

async function doBuild(outDir: string, opts: BuildBundleOptions): Promise<BundleInfo> {
  const progress = opts.onProgress ?? (() => {});
  const root = packageRoot();
  let server: string;
  if (opts.entry) {
    progress(`bundling ${relative(root, opts.entry) || opts.entry} with esbuild`);
    server = await bundleServer(opts.entry);
  } else {
    const found = await defaultServer(root);
    progress(`server from ${found.from}`);
    server = found.server;
  }
  const pty = await nodePtyFiles();
  const bash = await hostBash();
  const ptyNode = join(pty.root, "build", "Release", "pty.node");
  const libs = new Set<string>();
  for (const f of [process.execPath, ptyNode, bash]) for (const l of await sharedLibraries(f)) libs.add(l);
  if (![...libs].some((l) => basename(l).startsWith("ld-linux-x86-64"))) {
    throw new Error(
      `ldd shows no ${LOADER} for ${process.execPath}: the runtime bundle needs an x86-64 glibc host`,
    );
  }

  const hash = createHash("sha256").update(`layout ${LAYOUT_VERSION}\0${LAUNCHER_SCRIPT}\0${BASH_WRAPPER}\0`);
  hash.update(server);
  for (const f of [process.execPath, bash, ...[...libs].sort()]) await fileDigest(hash, f);
  for (const f of pty.files) hash.update(await readFile(join(pty.root, f)));
  const buildId = hash.digest("hex").slice(0, 32);

  if (!opts.force && (await readBuildId(outDir)) === buildId) return { dir: outDir, buildId, built: false };

  const parent = dirname(outDir);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = join(parent, `.swerex-tmp-${tag}`);
  progress(`assembling the runtime bundle (node ${process.version}, ${libs.size} libraries) in ${outDir}`);
  try {
    await assemble(tmp, server, pty, bash, [...libs], buildId);
    if (existsSync(outDir)) await rename(outDir, join(parent, `.swerex-old-${tag}`)).catch(() => {});
    try {
      await rename(tmp, outDir);
    } catch (err) {
      // Another process swapped its build in first; theirs is as good as ours when the ids match.
      if ((await readBuildId(outDir)) !== buildId) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await removeStaleBundles(parent);
  progress(`runtime bundle ready: ${join(outDir, LAUNCHER_NAME)}`);
  return { dir: outDir, buildId, built: true };
}
