/**
 * The `bash -n` shortcut for plain-word commands (bash-plain.ts) must be sound: every command it lets
 * through, bash accepts. Checked against the real `bash -n` over generated commands that mix the allowed
 * characters with reserved words, plus the cases that made the reserved-word rule necessary.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { findBash } from "../../../src/runtime/local/bash-binary.js";
import { isPlainBashCommand } from "../../../src/runtime/local/bash-plain.js";

const bash = findBash();

/** What upstream's check does with `command`: true if `bash -n` accepts it. */
function bashAccepts(command: string): boolean {
  const r = spawnSync(bash, ["-n"], { input: `${command}\n`, timeout: 30_000 });
  return r.status === 0;
}

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("isPlainBashCommand", () => {
  it.each([
    "echo hi",
    "ls -la /tmp",
    "git status",
    "cd /work/repo\nmake -j2 all",
    "echo $HOME $1 $@ $$",
    "a=1 b=x,y:z@w%v+u env",
    "",
    "\n\n",
    "python3 -m pytest tests/test_x.py",
    "grep -rn 'def foo(' src",
    "git commit -m 'fix: a | b; c && d \\ $(x) `y` \"z\" (e) {f} #g'",
    "echo 'if' 'then' fi''",
    "x='multi\nline' y=''",
  ])("lets plain words through: %j", (command) => {
    expect(isPlainBashCommand(command)).toBe(true);
    expect(bashAccepts(command)).toBe(true);
  });

  it.each([
    ["an unclosed single quote", "echo 'hi"],
    ["ANSI-C quoting", "echo $'a\\' b'"],
    ["a NUL inside quotes", "echo 'a\0b'"],
    ["a double quote", 'echo "hi"'],
    ["a backslash", "echo a\\"],
    ["a parenthesis", "echo ("],
    ["a brace", "echo ${x"],
    ["a bracket", "[[ a"],
    ["a pipe", "ls |"],
    ["an ampersand", "&& ls"],
    ["a semicolon", ";"],
    ["a redirection", "echo >"],
    ["a comment", "# x"],
    ["a tab", "echo\thi"],
    ["a carriage return", "echo hi\r"],
    ["non-ASCII", "echo héllo"],
    ["a backtick", "echo `"],
    ["a bang", "! ls"],
    ["a reserved word alone", "fi"],
    ["an unclosed if", "if true"],
    ["a dangling do", "echo a\ndo echo b"],
    ["a reserved word as an argument", "echo done"],
    ["time", "time ls"],
    ["coproc", "coproc"],
  ])("sends %s to the full check", (_name, command) => {
    expect(isPlainBashCommand(command)).toBe(false);
  });

  it("reserved words among plain words are real syntax errors (why the rule exists)", () => {
    for (const command of ["fi", "then", "done", "do ls", "esac", "echo a\nelse", "in", "if x"]) {
      expect(bashAccepts(command), command).toBe(false);
      expect(isPlainBashCommand(command), command).toBe(false);
    }
  });

  it("never lets through a command that bash -n rejects (generated commands)", () => {
    const next = rng(20_251_121);
    const pieces = [
      ..."abcxyzABZ019_./=:,@%+-$",
      "$x",
      "echo",
      "ls",
      "if",
      "then",
      "fi",
      "do",
      "done",
      "case",
      "esac",
      "in",
      "for",
      "while",
      "time",
      "function",
      "select",
      "coproc",
      "elif",
      "else",
      "until",
      "{",
      "}",
      "!",
      "(",
      "'",
      "'",
      "'x y'",
      "'(|;&\\'",
      "$'",
      '"',
      "\\",
      ";",
    ];
    const separators = [" ", " ", " ", "\n", "  ", ""];
    let plain = 0;
    for (let i = 0; i < 600; i++) {
      const n = 1 + Math.floor(next() * 6);
      let command = "";
      for (let j = 0; j < n; j++) {
        command += pieces[Math.floor(next() * pieces.length)];
        command += separators[Math.floor(next() * separators.length)];
      }
      if (!isPlainBashCommand(command)) continue;
      plain++;
      expect(bashAccepts(command), JSON.stringify(command)).toBe(true);
    }
    // The generator must exercise the shortcut, not only its refusals.
    expect(plain).toBeGreaterThan(50);
  });
});
