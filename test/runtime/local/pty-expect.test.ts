/** The chunked buffer and the patterns that `expect` searches it with. */
import { describe, expect, it } from "vitest";
import { Literal, PrefixedMarker, TextBuffer, UserRegex } from "../../../src/runtime/local/pty-expect.js";

function buffer(...chunks: string[]): TextBuffer {
  const b = new TextBuffer();
  for (const c of chunks) b.append(c);
  return b;
}

describe("TextBuffer", () => {
  it("tail and shift across chunks", () => {
    const b = buffer("abc", "", "def", "gh");
    expect(b.length).toBe(8);
    expect(b.tail(0)).toBe("abcdefgh");
    expect(b.tail(2)).toBe("cdefgh");
    expect(b.tail(7)).toBe("h");
    expect(b.tail(8)).toBe("");
    expect(b.shift(4)).toBe("abcd");
    expect(b.toString()).toBe("efgh");
    expect(b.length).toBe(4);
  });
});

describe("patterns", () => {
  it("a literal split over chunks is found, and found incrementally", () => {
    const b = buffer("xxSHELLPS");
    const lit = new Literal("SHELLPS1PREFIX");
    expect(lit.find(b)).toBeNull();
    b.append("1PRE");
    expect(lit.find(b)).toBeNull();
    b.append("FIXtail");
    expect(lit.find(b)).toEqual({ start: 2, end: 16, groups: [] });
  });

  it("a marker whose tail has not fully arrived is not matched yet", () => {
    const b = buffer("out SWEREX_END_ab:1");
    const m = new PrefixedMarker("SWEREX_END_ab:", /(\d+)\r?\n/y);
    expect(m.find(b)).toBeNull();
    b.append("27\r");
    expect(m.find(b)).toBeNull();
    b.append("\nSHELL");
    expect(m.find(b)).toEqual({ start: 4, end: 23, groups: ["127"] });
  });

  it("user patterns are regexes with DOTALL and Python named groups", () => {
    const b = buffer("a\nb >>> ");
    expect(new UserRegex("a.b").find(b)).toMatchObject({ start: 0, end: 3 });
    expect(new UserRegex("(?P<p>>>>) ").find(b)).toMatchObject({ start: 4, groups: [">>>"] });
    expect(() => new UserRegex("(unclosed")).toThrow(/invalid expect pattern/);
  });
});
