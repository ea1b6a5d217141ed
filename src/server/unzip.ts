/**
 * Extracts an uploaded zip into a directory (the `unzip=true` branch of `/upload`), streaming each entry
 * from the zip file on disk through zlib to its destination, so memory stays flat whatever the archive
 * inflates to. Guarantees:
 * - the total inflated size is capped (`maxInflatedBytes`): a zip bomb fails with an error naming the
 *   limit, counted on the bytes actually inflated, not on what the headers claim;
 * - nothing lands outside the target: entries with `..` or absolute names (zip-slip) and entries whose
 *   path passes through an existing symlink inside the target are refused before anything is written;
 * - a failed extraction removes the files and directories it created;
 * - the Unix permission bits a zip made on Unix carries are restored (uploaded scripts stay executable);
 *   symlink entries are written as plain files, as Python's zipfile does, so a zip cannot plant a link.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, open, rm, rmdir } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createInflateRaw } from "node:zlib";
import { PythonValueError } from "../runtime/errors.js";

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const UNIX_HOST = 3;
const STORED = 0;
const DEFLATED = 8;
/** EOCD (22 bytes) plus the longest comment (65535). */
const EOCD_SEARCH_BYTES = 22 + 0xffff;
/** A central directory bigger than this is not an upload anyone meant (millions of entries). */
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

export interface ExtractZipOptions {
  /** Largest total of inflated bytes; more fails the extraction. Default: no cap. */
  maxInflatedBytes?: number;
}

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Unix mode bits, when the zip was made on Unix. */
  mode: number | undefined;
}

function invalid(message: string): PythonValueError {
  return new PythonValueError(`Uploaded file is not a valid zip archive: ${message}`);
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
async function readAt(
  fh: Awaited<ReturnType<typeof open>>,
  position: number,
  length: number,
): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/** Where the central directory is and how many entries it has (ZIP64 aware). */
async function findCentralDirectory(
  fh: Awaited<ReturnType<typeof open>>,
  size: number,
): Promise<{ offset: number; length: number; count: number }> {
  const tailStart = Math.max(0, size - EOCD_SEARCH_BYTES);
  const tail = await readAt(fh, tailStart, size - tailStart);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw invalid("no end of central directory record");
  let count = tail.readUInt16LE(eocd + 10);
  let length = tail.readUInt32LE(eocd + 12);
  let offset = tail.readUInt32LE(eocd + 16);
  if ((count === 0xffff || length === 0xffffffff || offset === 0xffffffff) && eocd >= 20) {
    const locator = tail.subarray(eocd - 20, eocd);
    if (locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
      const record = await readAt(fh, Number(locator.readBigUInt64LE(8)), 56);
      if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) {
        throw invalid("bad ZIP64 end of central directory record");
      }
      count = Number(record.readBigUInt64LE(32));
      length = Number(record.readBigUInt64LE(40));
      offset = Number(record.readBigUInt64LE(48));
    }
  }
  if (offset + length > size) throw invalid("central directory beyond the end of the file");
  if (length > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw invalid(`central directory of ${length} bytes (more than ${MAX_CENTRAL_DIRECTORY_BYTES})`);
  }
  return { offset, length, count };
}

/** Sizes and offset from a ZIP64 extra field, for the fields whose 32-bit value is 0xffffffff. */
function applyZip64(extra: Buffer, entry: Entry): void {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const len = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA_ID) {
      let p = at + 4;
      const next = (): number => {
        if (p + 8 > at + 4 + len) throw invalid(`truncated ZIP64 field of ${JSON.stringify(entry.name)}`);
        const v = Number(extra.readBigUInt64LE(p));
        p += 8;
        return v;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localOffset === 0xffffffff) entry.localOffset = next();
      return;
    }
    at += 4 + len;
  }
}

function parseCentralDirectory(cd: Buffer, count: number): Entry[] {
  const entries: Entry[] = [];
  const utf8 = new TextDecoder();
  const cp437ish = new TextDecoder("latin1");
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw invalid("truncated central directory");
    }
    const host = cd.readUInt8(at + 5);
    const flags = cd.readUInt16LE(at + 8);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    const external = cd.readUInt32LE(at + 38);
    const nameBytes = cd.subarray(at + 46, at + 46 + nameLength);
    const mode = external >>> 16;
    const entry: Entry = {
      name: (flags & 0x800 ? utf8 : cp437ish).decode(nameBytes),
      method: cd.readUInt16LE(at + 10),
      flags,
      crc: cd.readUInt32LE(at + 16),
      compressedSize: cd.readUInt32LE(at + 20),
      size: cd.readUInt32LE(at + 24),
      localOffset: cd.readUInt32LE(at + 42),
      mode: host === UNIX_HOST && mode !== 0 ? mode : undefined,
    };
    applyZip64(cd.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), entry);
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Where an entry goes under `root`, or an error if it would escape it. */
function destinationOf(root: string, name: string): string {
  const dest = resolve(root, name);
  if (isAbsolute(name) || (dest !== root && !dest.startsWith(root + sep))) {
    throw new PythonValueError(
      `Refusing to extract zip entry ${JSON.stringify(name)}: it points outside ${root}`,
    );
  }
  return dest;
}

/**
 * Refuses a destination whose path below `root` passes through (or ends at) an existing symlink: writing
 * there would follow the link out of the target. `checked` remembers paths already known to be plain.
 */
async function refuseSymlinks(root: string, dest: string, name: string, checked: Set<string>): Promise<void> {
  let path = root;
  for (const part of relative(root, dest).split(sep)) {
    if (part === "") continue;
    path = resolve(path, part);
    if (checked.has(path)) continue;
    let isLink: boolean;
    try {
      isLink = (await lstat(path)).isSymbolicLink();
    } catch {
      return; // does not exist yet: neither does anything below it
    }
    if (isLink) {
      throw new PythonValueError(
        `Refusing to extract zip entry ${JSON.stringify(name)}: ${path} is a symbolic link, and writing through it could land outside ${root}`,
      );
    }
    checked.add(path);
  }
}

/** Counts inflated bytes against the entry's size and the archive's cap, and checks the CRC at the end. */
function meter(entry: Entry, budget: { left: number; cap: number | undefined }): Transform {
  let seen = 0;
  let crc = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      budget.left -= chunk.length;
      if (budget.cap !== undefined && budget.left < 0) {
        return done(
          new PythonValueError(
            `Refusing to extract the uploaded zip: it inflates to more than ${budget.cap} bytes, the limit ` +
              "(swerex-remote --max-unzip-bytes / SWEREX_MAX_UNZIP_BYTES)",
            { extraInfo: { max_unzip_bytes: budget.cap } },
          ),
        );
      }
      if (seen > entry.size)
        return done(invalid(`entry ${JSON.stringify(entry.name)} is larger than declared`));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (seen !== entry.size) return done(invalid(`entry ${JSON.stringify(entry.name)} is truncated`));
      if (crc >>> 0 !== entry.crc >>> 0) return done(invalid(`bad CRC-32 for ${JSON.stringify(entry.name)}`));
      done();
    },
  });
}

/** Extracts the zip at `zipPath` into `targetDir` (created if missing). Existing files are overwritten. */
export async function extractZip(
  zipPath: string,
  targetDir: string,
  opts: ExtractZipOptions = {},
): Promise<void> {
  const root = resolve(targetDir);
  const fh = await open(zipPath, "r");
  let entries: Entry[];
  try {
    const size = (await fh.stat()).size;
    const cd = await findCentralDirectory(fh, size);
    entries = parseCentralDirectory(await readAt(fh, cd.offset, cd.length), cd.count);
    for (const e of entries) {
      if (e.flags & 0x1) throw invalid(`entry ${JSON.stringify(e.name)} is encrypted`);
      if (!e.name.endsWith("/") && e.method !== STORED && e.method !== DEFLATED) {
        throw invalid(
          `entry ${JSON.stringify(e.name)} uses compression method ${e.method} (only stored and deflate)`,
        );
      }
      const local = await readAt(fh, e.localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
        throw invalid(`no local header for ${JSON.stringify(e.name)}`);
      }
      // Data starts after the local header's own name and extra field, which may differ from the central one's.
      e.localOffset += 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    }
  } finally {
    await fh.close();
  }

  // Every destination is checked before anything is written.
  const plan = entries.map((entry) => ({ entry, dest: destinationOf(root, entry.name) }));
  const plain = new Set<string>();
  for (const { entry, dest } of plan) await refuseSymlinks(root, dest, entry.name, plain);

  const cap = opts.maxInflatedBytes;
  const budget = { left: cap ?? Number.POSITIVE_INFINITY, cap };
  const createdFiles: string[] = [];
  const createdDirs: string[] = [];
  const makeDir = async (dir: string) => {
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      // mkdir returns the first directory it created; record it and every one below it down to `dir`.
      for (let d = dir; d.length >= first.length; d = dirname(d)) createdDirs.push(d);
    }
  };
  try {
    await makeDir(root);
    for (const { entry, dest } of plan) {
      if (entry.name.endsWith("/")) {
        await makeDir(dest);
        continue;
      }
      await makeDir(dirname(dest));
      createdFiles.push(dest);
      const source: Readable =
        entry.compressedSize === 0
          ? Readable.from([])
          : createReadStream(zipPath, {
              start: entry.localOffset,
              end: entry.localOffset + entry.compressedSize - 1,
            });
      const sink = createWriteStream(dest);
      if (entry.method === DEFLATED && entry.compressedSize > 0)
        await pipeline(source, createInflateRaw(), meter(entry, budget), sink);
      else await pipeline(source, meter(entry, budget), sink);
      // Only regular files (S_IFREG); like Python's zipfile, anything else is written as plain content.
      if (entry.mode !== undefined && (entry.mode & 0o170000) === 0o100000)
        await chmod(dest, entry.mode & 0o777);
    }
  } catch (err) {
    for (const f of createdFiles) await rm(f, { force: true }).catch(() => undefined);
    for (const d of createdDirs.sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
    if (err instanceof PythonValueError) throw err;
    if ((err as { code?: string }).code?.startsWith("Z_")) {
      throw invalid(`cannot inflate: ${(err as Error).message}`);
    }
    throw err;
  }
}
