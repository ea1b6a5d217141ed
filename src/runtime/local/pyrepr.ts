/**
 * Python's `repr()` for the values that SWE-ReX puts in error messages (`{command!r}`, `{output!r}`), so our
 * messages are byte-for-byte what a Python `swerex-remote` says.
 */

/** Python's `str.isprintable()` for one code point: not Cc/Cf/Cs/Co/Cn/Zl/Zp, and no Zs except the space. */
const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}\p{Zs}]/u;

function escapeCodePoint(cp: number): string {
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** `repr(s)` of a Python `str`. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NON_PRINTABLE.test(ch)) out += escapeCodePoint(cp);
    else out += ch;
  }
  return out + quote;
}

/** `repr()` of a `str` or a `list[str]` (what `Command.command` may be). */
export function pyRepr(value: string | readonly string[]): string {
  if (typeof value === "string") return pyStrRepr(value);
  return `[${value.map(pyStrRepr).join(", ")}]`;
}

/**
 * `str(x)` of a Python `float` (pydantic turns every timeout into a float, so `5` prints as `5.0`).
 * Python switches to exponent notation below 1e-4 and from 1e16 on, with at least two exponent digits.
 */
export function pyFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mant, exp] = n.toExponential().split("e") as [string, string];
    const sign = exp.startsWith("-") ? "-" : "+";
    const digits = exp.replace(/^[+-]/, "").padStart(2, "0");
    return `${mant}e${sign}${digits}`;
  }
  if (Number.isInteger(n)) return n.toFixed(1);
  return String(n);
}
