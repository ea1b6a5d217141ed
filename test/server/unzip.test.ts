/**
 * Issue 13 item 3: `/upload` with `unzip=true` streams each entry to disk with a cap on the total inflated
 * size (a real zip bomb: a ~1 MB zip of 1 GiB of zeros, RSS sampled throughout), and refuses entries that
 * would pass through an existing symlink inside the target.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, crc32, deflateRawSync } from "node:zlib";
import { zipSync } from "fflate";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DummyRuntime } from "../../src/runtime/dummy.js";
import { PythonValueError } from "../../src/runtime/errors.js";
import { createRuntimeServer } from "../../src/server/runtime-server.js";

const KEY = "unzip-key";
const MIB = 1024 * 1024;
const BOMB_MIB = 1024;
const CAP = 64 * MIB;

/**
 * A zip with one entry `zeros.bin` of `mib` MiB of zeros, built without ever holding them: one MiB of
 * zeros deflated with a full flush is a self-contained chunk, repeated `mib` times, then a final empty block.
 */
function zerosZip(mib: number): Buffer {
  const zeros = Buffer.alloc(MIB);
  const chunk = deflateRawSync(zeros, { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
  const data = Buffer.concat([...Array.from({ length: mib }, () => chunk), Buffer.from([0x03, 0x00])]);
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = crc32(zeros, crc);
  const name = Buffer.from("zeros.bin");
  const size = mib * MIB;
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size >>> 0, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc >>> 0, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(size >>> 0, 24);
  central.writeUInt16LE(name.length, 28);
  const cdOffset = local.length + name.length + data.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + name.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, data, central, name, eocd]);
}

describe("unzip on upload", () => {
  let url = "";
  let close: () => Promise<void> = async () => undefined;
  let work = "";
  beforeAll(async () => {
    const app = createRuntimeServer({ runtime: new DummyRuntime(), authToken: KEY, unzipLimitBytes: CAP });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (address === null || typeof address !== "object") throw new Error("no port");
    url = `http://127.0.0.1:${address.port}`;
    close = () => app.close();
    work = await mkdtemp(join(tmpdir(), "swerex-unzip-test-"));
  });
  afterAll(async () => {
    await close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function uploadZip(zip: Uint8Array, target: string) {
    const form = new FormData();
    form.append("file", new Blob([zip], { type: "application/zip" }), "zipped_transfer.zip");
    form.append("target_path", target);
    form.append("unzip", "true");
    const res = await request(`${url}/upload`, {
      method: "POST",
      headers: { "X-API-Key": KEY },
      body: form,
      signal: AbortSignal.timeout(120_000),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it("a zip bomb (1 GiB of zeros in ~1 MB) fails naming the limit, RSS stays flat, nothing is left", async () => {
    const bomb = zerosZip(BOMB_MIB);
    expect(bomb.length).toBeLessThan(2 * MIB);
    const target = join(work, "bomb");
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    let r: Awaited<ReturnType<typeof uploadZip>>;
    try {
      r = await uploadZip(bomb, target);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const grewMiB = (peak - before) / MIB;
    console.log(
      `zip bomb: RSS before ${(before / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB (+${grewMiB.toFixed(0)} MiB) for ${BOMB_MIB} MiB inflated`,
    );
    expect(r.status).toBe(511);
    const transfer = r.json.swerexception as { class_path: string; message: string };
    expect(transfer.class_path).toBe(PythonValueError.classPath);
    expect(transfer.message).toContain(`more than ${CAP} bytes`);
    expect(transfer.message).toContain("--max-unzip-bytes");
    // The whole archive would be +1024 MiB held in memory; streaming keeps it to buffers.
    expect(grewMiB).toBeLessThan(BOMB_MIB / 4);
    expect(existsSync(target)).toBe(false);
  });

  it("extracts a zip below the cap in full (streamed, CRC checked)", async () => {
    const target = join(work, "small");
    expect((await uploadZip(zerosZip(3), target)).status).toBe(200);
    const content = await readFile(join(target, "zeros.bin"));
    expect(content.length).toBe(3 * MIB);
    expect(content.every((b) => b === 0)).toBe(true);
  });

  it("refuses an entry that would pass through an existing symlink inside the target, writing nothing", async () => {
    const target = join(work, "linked");
    const outside = join(work, "outside");
    await mkdir(target, { recursive: true });
    await mkdir(outside);
    await symlink(outside, join(target, "sub"));
    const zip = zipSync({
      "a-first.txt": new TextEncoder().encode("fine"),
      "sub/x": new TextEncoder().encode("escaped"),
    });
    const r = await uploadZip(zip, target);
    expect(r.status).toBe(511);
    const transfer = r.json.swerexception as { class_path: string; message: string };
    expect(transfer.class_path).toBe(PythonValueError.classPath);
    expect(transfer.message).toContain('"sub/x"');
    expect(transfer.message).toContain("symbolic link");
    expect(await readdir(outside)).toEqual([]);
    expect(existsSync(join(target, "a-first.txt"))).toBe(false);
  });

  it("refuses a file entry whose destination is an existing symlink", async () => {
    const target = join(work, "linked-file");
    await mkdir(target, { recursive: true });
    const victim = join(work, "victim.txt");
    await writeFile(victim, "original");
    await symlink(victim, join(target, "f.txt"));
    const r = await uploadZip(zipSync({ "f.txt": new TextEncoder().encode("overwritten") }), target);
    expect(r.status).toBe(511);
    expect(await readFile(victim, "utf8")).toBe("original");
  });

  it("says a corrupt archive is not a valid zip", async () => {
    const zip = zipSync({ "a.txt": new TextEncoder().encode("hello hello hello") });
    const broken = Buffer.from(zip);
    broken.writeUInt32LE(0xdeadbeef, 14); // the local header's CRC is ignored; break the central one's
    broken.writeUInt32LE(0xdeadbeef, broken.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16);
    const r = await uploadZip(broken, join(work, "corrupt"));
    expect(r.status).toBe(511);
    expect((r.json.swerexception as { message: string }).message).toContain("bad CRC-32");
  });
});
