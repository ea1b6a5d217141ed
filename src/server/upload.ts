/**
 * The server side of `/upload`: a multipart form with `file`, `target_path` and `unzip` (SWE-ReX 4.2). The
 * file is streamed to a private temp directory first, then moved to `target_path`, or, with `unzip`,
 * extracted into the directory `target_path`.
 */
import { createHash, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, rename, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyRequest } from "fastify";
import { extractZip } from "./unzip.js";
import { RequestValidationError, type ValidationIssue } from "./validation.js";

export interface ReceivedUpload {
  /** Private temp directory holding the received file; removed by `placeUpload`. */
  tempDir: string;
  filePath: string;
  /** The client's file name (basename only); used when `target_path` is an existing directory. */
  fileName: string;
  targetPath: string;
  unzip: boolean;
  /** SHA-256 of the file and the form fields: what the request-id cache tells uploads apart by. */
  digest: string;
}

const TRUE_WORDS = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE_WORDS = new Set(["0", "off", "f", "false", "n", "no"]);

/** pydantic's str-to-bool rules, which FastAPI applies to form fields. */
function formBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  return undefined;
}

/** Reads the form. Throws `RequestValidationError` (422) when a required field is missing or malformed. */
export async function receiveUpload(req: FastifyRequest): Promise<ReceivedUpload> {
  const missing = (field: string): ValidationIssue => ({
    type: "missing",
    loc: ["body", field],
    msg: "Field required",
  });
  if (!req.isMultipart()) throw new RequestValidationError([missing("file"), missing("target_path")]);

  const tempDir = await mkdtemp(join(tmpdir(), "swerex-upload-"));
  const filePath = join(tempDir, "temp_file_transfer");
  const fields: Record<string, string> = {};
  const fileHash = createHash("sha256");
  let fileName: string | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === "file") {
        if (part.fieldname === "file" && fileName === undefined) {
          fileName = basename(part.filename || "temp_file_transfer");
          await pipeline(part.file, hashing(fileHash), createWriteStream(filePath));
        } else {
          part.file.resume();
        }
      } else if (fields[part.fieldname] === undefined) {
        fields[part.fieldname] = String(part.value);
      }
    }
    const issues: ValidationIssue[] = [];
    if (fileName === undefined) issues.push(missing("file"));
    if (fields.target_path === undefined) issues.push(missing("target_path"));
    const unzip = fields.unzip === undefined ? false : formBool(fields.unzip);
    if (unzip === undefined) {
      issues.push({
        type: "bool_parsing",
        loc: ["body", "unzip"],
        msg: "Input should be a valid boolean, unable to interpret input",
      });
    }
    if (issues.length > 0) throw new RequestValidationError(issues);
    return {
      tempDir,
      filePath,
      fileName: fileName as string,
      targetPath: fields.target_path as string,
      unzip: unzip as boolean,
      digest: createHash("sha256")
        .update(JSON.stringify([fileHash.digest("base64url"), fileName, fields.target_path, unzip]))
        .digest("base64url"),
    };
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/** A pass-through stream that feeds every chunk to `hash`. */
function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** Removes what `receiveUpload` left on disk (idempotent; `placeUpload` also does it). */
export async function discardUpload(upload: ReceivedUpload): Promise<void> {
  await rm(upload.tempDir, { recursive: true, force: true });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await copyFile(from, to);
    await unlink(from);
  }
}

/** Puts a received upload in place and removes the temp directory. */
export async function placeUpload(
  upload: ReceivedUpload,
  opts: { unzipLimitBytes?: number } = {},
): Promise<void> {
  try {
    await mkdir(dirname(upload.targetPath), { recursive: true });
    if (upload.unzip) {
      await extractZip(upload.filePath, upload.targetPath, { maxInflatedBytes: opts.unzipLimitBytes });
    } else {
      const dest = (await isDirectory(upload.targetPath))
        ? join(upload.targetPath, upload.fileName)
        : upload.targetPath;
      await moveFile(upload.filePath, dest);
    }
  } finally {
    await rm(upload.tempDir, { recursive: true, force: true });
  }
}
