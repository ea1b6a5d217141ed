/**
 * What a user gets from npm: `npm pack` of this checkout, installed into an empty directory, then a Docker
 * run through the installed `swerex` binary. The installed package has no src/ and no esbuild (a dev
 * dependency), so its runtime bundle must come from the server `npm run build` bundled into dist/.
 * Dependencies come from npm's cache where it has them (--prefer-offline), the registry otherwise.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  busyboxImage,
  containersWithLabel,
  describeDocker,
  fileLabel,
  removeContainersWithLabel,
} from "./fixtures.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");
const label = fileLabel();
const dir = mkdtempSync(join(tmpdir(), "swerex-npm-package-"));
let image = "";

afterAll(async () => {
  await removeContainersWithLabel(label.filter);
  rmSync(dir, { recursive: true, force: true });
});

describeDocker("the npm package", () => {
  beforeAll(async () => {
    image = await busyboxImage();
  }, 600_000);

  it("packs, installs into an empty directory, and runs a Docker deployment from there", async () => {
    await run("npm", ["pack", "--pack-destination", dir], { cwd: ROOT, timeout: 600_000 });
    const tgz = readdirSync(dir).find((n) => n.endsWith(".tgz"));
    expect(tgz).toBeDefined();
    const app = join(dir, "app");
    await run("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), '{ "name": "app", "version": "1.0.0", "private": true }\n');
    await run("npm", ["install", join(dir, tgz as string), "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: app,
      timeout: 900_000,
    });
    const installed = join(app, "node_modules", "swerex-ts");
    expect(existsSync(join(installed, "src"))).toBe(false);
    expect(existsSync(join(installed, "dist", "bundle", "server.mjs"))).toBe(true);

    const bin = join(app, "node_modules", ".bin", "swerex");
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        execFile(
          bin,
          [
            "run",
            "--instances.deployment.type=docker",
            `--instances.deployment.image=${image}`,
            "--instances.deployment.pull=never",
            `--instances.deployment.labels=${JSON.stringify(label.labels)}`,
            "--",
            "echo installed; exit 5",
          ],
          { cwd: app, timeout: 300_000 },
          (err, stdout, stderr) => {
            const code = (err as { code?: unknown } | null)?.code;
            if (err && typeof code !== "number") return reject(err);
            resolve({ code: typeof code === "number" ? code : 0, stdout, stderr });
          },
        );
      },
    );
    expect(r.stdout).toBe("installed\n");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('"msg":"server from dist/bundle/server.mjs"');
    expect(existsSync(join(installed, "build", "bundle", "swerex", "run-swerex"))).toBe(true);
    expect(await containersWithLabel(label.filter)).toEqual([]);
  }, 1_200_000);
});
