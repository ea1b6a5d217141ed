/**
 * Byte decoding with Python's codec error handlers (`strict`, `replace`, `backslashreplace`, `ignore`,
 * `surrogateescape`), for `utf-8`, `latin-1` and `ascii`. Node's decoders only know "replace", and SWE-ReX
 * promises `backslashreplace` for command output and `read_text(encoding, errors)` semantics for files.
 */
import { isUtf8 } from "node:buffer";
import { LookupError, UnicodeDecodeError } from "../errors.js";

export type DecodeErrors = "strict" | "replace" | "backslashreplace" | "ignore" | "surrogateescape";
export type Encoding = "utf-8" | "latin-1" | "ascii";

const ENCODING_ALIASES: Record<string, Encoding> = {
  "utf-8": "utf-8",
  utf8: "utf-8",
  u8: "utf-8",
  utf: "utf-8",
  "latin-1": "latin-1",
  latin1: "latin-1",
  latin: "latin-1",
  l1: "latin-1",
  "iso-8859-1": "latin-1",
  "iso8859-1": "latin-1",
  iso_8859_1: "latin-1",
  "8859": "latin-1",
  cp819: "latin-1",
  ascii: "ascii",
  "us-ascii": "ascii",
  "646": "ascii",
};

/** Python's codec lookup: case-insensitive, `_` and ` ` count as `-`. */
export function lookupEncoding(name: string | null | undefined): Encoding {
  if (name === null || name === undefined) return "utf-8";
  const key = name.trim().toLowerCase();
  const found = ENCODING_ALIASES[key] ?? ENCODING_ALIASES[key.replace(/[_ ]/g, "-")];
  if (!found) throw new LookupError(`unknown encoding: ${name}`);
  return found;
}

export function lookupErrors(name: string | null | undefined): DecodeErrors {
  if (name === null || name === undefined) return "strict";
  if (["strict", "replace", "backslashreplace", "ignore", "surrogateescape"].includes(name)) {
    return name as DecodeErrors;
  }
  throw new LookupError(`unknown error handler name '${name}'`);
}

/** One step of UTF-8 decoding: a code point of `len` bytes, an invalid run of `len` bytes, or a cut-off tail. */
type Step =
  | { kind: "ok"; cp: number; len: number }
  | { kind: "bad"; len: number; reason: string }
  | { kind: "partial"; len: number };

/** Decodes at `i` following Unicode's "maximal subpart" rule, which is what CPython's decoder does. */
function step(buf: Uint8Array, i: number): Step {
  const b0 = buf[i] as number;
  if (b0 < 0x80) return { kind: "ok", cp: b0, len: 1 };
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return { kind: "bad", len: 1, reason: "invalid start byte" };
  let cp = b0 & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
  for (let k = 1; k <= need; k++) {
    if (i + k >= buf.length) return { kind: "partial", len: k };
    const c = buf[i + k] as number;
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) {
      return { kind: "bad", len: k, reason: "invalid continuation byte" };
    }
    cp = (cp << 6) | (c & 0x3f);
  }
  return { kind: "ok", cp, len: need + 1 };
}

function hexByte(b: number): string {
  return b.toString(16).padStart(2, "0");
}

/** What a handler puts in place of the invalid bytes `buf[start..end)`; throws for `strict`. */
function substitute(
  buf: Uint8Array,
  start: number,
  end: number,
  reason: string,
  errors: DecodeErrors,
  codec: string,
): string {
  switch (errors) {
    case "replace":
      // UTF-8 replaces each maximal invalid subpart once; single-byte codecs replace byte by byte.
      return codec === "utf-8" ? "\ufffd" : "\ufffd".repeat(end - start);
    case "ignore":
      return "";
    case "backslashreplace": {
      let s = "";
      for (let j = start; j < end; j++) s += `\\x${hexByte(buf[j] as number)}`;
      return s;
    }
    case "surrogateescape": {
      let s = "";
      for (let j = start; j < end; j++) s += String.fromCharCode(0xdc00 + (buf[j] as number));
      return s;
    }
    default: {
      const what =
        end - start === 1
          ? `byte 0x${hexByte(buf[start] as number)} in position ${start}`
          : `bytes in position ${start}-${end - 1}`;
      throw new UnicodeDecodeError(`'${codec}' codec can't decode ${what}: ${reason}`);
    }
  }
}

/**
 * Decodes UTF-8. With `final` false, an incomplete sequence at the end is not decoded and its length is
 * returned in `rest`, for the caller to prepend to the next chunk.
 */
function decodeUtf8(buf: Uint8Array, errors: DecodeErrors, final: boolean): { text: string; rest: number } {
  const parts: string[] = [];
  let plainFrom = 0;
  let i = 0;
  const flush = (to: number) => {
    if (to > plainFrom)
      parts.push(Buffer.from(buf.buffer, buf.byteOffset + plainFrom, to - plainFrom).toString("utf8"));
  };
  while (i < buf.length) {
    if ((buf[i] as number) < 0x80) {
      i++;
      continue;
    }
    const s = step(buf, i);
    if (s.kind === "ok") {
      i += s.len;
      continue;
    }
    flush(i);
    if (s.kind === "partial") {
      if (!final) return { text: parts.join(""), rest: buf.length - i };
      parts.push(substitute(buf, i, buf.length, "unexpected end of data", errors, "utf-8"));
      i = buf.length;
    } else {
      parts.push(substitute(buf, i, i + s.len, s.reason, errors, "utf-8"));
      i += s.len;
    }
    plainFrom = i;
  }
  flush(i);
  return { text: parts.join(""), rest: 0 };
}

function decodeAscii(buf: Uint8Array, errors: DecodeErrors): string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < buf.length; i++) {
    if ((buf[i] as number) >= 0x80) {
      if (i > from) parts.push(Buffer.from(buf.subarray(from, i)).toString("latin1"));
      parts.push(substitute(buf, i, i + 1, "ordinal not in range(128)", errors, "ascii"));
      from = i + 1;
    }
  }
  if (from < buf.length) parts.push(Buffer.from(buf.subarray(from)).toString("latin1"));
  return parts.join("");
}

/** `bytes.decode(encoding, errors)`. */
export function decodeBytes(
  buf: Uint8Array,
  encoding: Encoding = "utf-8",
  errors: DecodeErrors = "strict",
): string {
  if (encoding === "latin-1")
    return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1");
  if (encoding === "ascii") return decodeAscii(buf, errors);
  if (isUtf8(buf)) return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8");
  return decodeUtf8(buf, errors, true).text;
}

/** Decodes a byte stream chunk by chunk with `backslashreplace`, keeping sequences split across chunks whole. */
export class StreamingUtf8Decoder {
  private pending: Buffer = Buffer.alloc(0);

  write(chunk: Uint8Array): string {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const { text, rest } = decodeUtf8(buf, "backslashreplace", false);
    this.pending = rest ? Buffer.from(buf.subarray(buf.length - rest)) : Buffer.alloc(0);
    return text;
  }

  end(): string {
    const buf = this.pending;
    this.pending = Buffer.alloc(0);
    return buf.length ? decodeUtf8(buf, "backslashreplace", true).text : "";
  }
}
