/** Python's `repr()` and codecs, as our error messages and decoded output need them (expected values from CPython 3.11). */
import { describe, expect, it } from "vitest";
import { LookupError, UnicodeDecodeError } from "../../../src/runtime/errors.js";
import { StreamingUtf8Decoder } from "../../../src/runtime/local/codec.js";
import { decodeBytes, lookupEncoding, pyFloat, pyRepr } from "../../../src/runtime/local/index.js";

describe("pyRepr", () => {
  it.each<[string | string[], string]>([
    ["hello", "'hello'"],
    ["", "''"],
    ["it's", `"it's"`],
    [`say "hi"`, `'say "hi"'`],
    [`it's "x"`, `'it\\'s "x"'`],
    ["a\nb\tc\rd\\e", "'a\\nb\\tc\\rd\\\\e'"],
    ["\x00\x07\x1b\x7f", "'\\x00\\x07\\x1b\\x7f'"],
    ["\x85\xa0\xad", "'\\x85\\xa0\\xad'"],
    ["é ü 中文 🦖", "'é ü 中文 🦖'"],
    ["\u2028\u200b\ufeff", "'\\u2028\\u200b\\ufeff'"],
    [["echo", "it's"], `['echo', "it's"]`],
    [[], "[]"],
  ])("repr(%j) == %s", (value, want) => {
    expect(pyRepr(value)).toBe(want);
  });

  it.each<[number, string]>([
    [0.1, "0.1"],
    [5, "5.0"],
    [0, "0.0"],
    [2.5, "2.5"],
    [0.00001, "1e-05"],
    [1e16, "1e+16"],
    [123456.789, "123456.789"],
  ])("str(float(%d)) == %s", (n, want) => {
    expect(pyFloat(n)).toBe(want);
  });
});

describe("decodeBytes", () => {
  const b = (...xs: number[]) => Uint8Array.from(xs);

  it("decodes valid UTF-8 unchanged", () => {
    expect(decodeBytes(Buffer.from("héllo 🦖"), "utf-8", "strict")).toBe("héllo 🦖");
  });

  it.each<[Uint8Array, string, string]>([
    [b(0x61, 0xff, 0x62), "backslashreplace", "a\\xffb"],
    [b(0x61, 0xff, 0x62), "replace", "a\ufffdb"],
    [b(0x61, 0xff, 0x62), "ignore", "ab"],
    [b(0xe4, 0xb8), "backslashreplace", "\\xe4\\xb8"],
    [b(0xe4, 0xb8), "replace", "\ufffd"],
    [b(0xf0, 0x90, 0x41), "replace", "\ufffdA"],
    [b(0xed, 0xa0, 0x80), "replace", "\ufffd\ufffd\ufffd"],
    [b(0xc0, 0xaf), "backslashreplace", "\\xc0\\xaf"],
  ])("utf-8 %j with errors=%s", (bytes, errors, want) => {
    expect(decodeBytes(bytes, "utf-8", errors as "replace")).toBe(want);
  });

  it.each<[Uint8Array, string, string]>([
    [b(0xff), "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte", "utf-8"],
    [
      b(0x61, 0xe4, 0x41),
      "'utf-8' codec can't decode byte 0xe4 in position 1: invalid continuation byte",
      "utf-8",
    ],
    [
      b(0xf0, 0x90, 0x41),
      "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte",
      "utf-8",
    ],
    [
      b(0x61, 0xe4, 0xb8),
      "'utf-8' codec can't decode bytes in position 1-2: unexpected end of data",
      "utf-8",
    ],
    [b(0x61, 0xe9), "'ascii' codec can't decode byte 0xe9 in position 1: ordinal not in range(128)", "ascii"],
  ])("strict %j raises UnicodeDecodeError", (bytes, message, encoding) => {
    let err: unknown;
    try {
      decodeBytes(bytes, encoding as "utf-8", "strict");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnicodeDecodeError);
    expect((err as Error).message).toBe(message);
  });

  it("latin-1 maps every byte", () => {
    expect(decodeBytes(b(0x63, 0x61, 0x66, 0xe9, 0xff), "latin-1")).toBe("café\u00ff");
  });

  it("looks up encodings like Python", () => {
    expect(lookupEncoding("UTF8")).toBe("utf-8");
    expect(lookupEncoding("ISO_8859_1")).toBe("latin-1");
    expect(lookupEncoding("US-ASCII")).toBe("ascii");
    expect(() => lookupEncoding("klingon")).toThrow(LookupError);
    expect(() => lookupEncoding("klingon")).toThrow("unknown encoding: klingon");
  });
});

describe("StreamingUtf8Decoder", () => {
  it("keeps a character split across chunks whole", () => {
    const d = new StreamingUtf8Decoder();
    const bytes = Buffer.from("a🦖b");
    let out = "";
    for (const byte of bytes) out += d.write(Uint8Array.of(byte));
    expect(out + d.end()).toBe("a🦖b");
  });

  it("backslash-escapes invalid bytes, including a truncated tail at the end", () => {
    const d = new StreamingUtf8Decoder();
    const out = d.write(Uint8Array.of(0x61, 0xff, 0x62, 0xe4)) + d.end();
    expect(out).toBe("a\\xffb\\xe4");
  });
});
