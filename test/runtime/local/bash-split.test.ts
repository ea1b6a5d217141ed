// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash source, not templates.
/** Upstream `tests/test_runtime.py` (split and `bash -n` check), plus the cases our splitter adds. */
import { describe, expect, it } from "vitest";
import { BashIncorrectSyntaxError } from "../../../src/runtime/errors.js";
import { checkBashCommand, splitBashCommand } from "../../../src/runtime/local/index.js";

describe("splitBashCommand (upstream test_runtime.py)", () => {
  it.each<[string, string, string[]]>([
    ["normal", "cmd1\ncmd2", ["cmd1", "cmd2"]],
    ["escaped newline", "cmd1\\\n asdf", ["cmd1\\\n asdf"]],
    ["heredoc", "cmd1<<EOF\na\nb\nEOF", ["cmd1<<EOF\na\nb\nEOF"]],
    [
      "two heredocs",
      "cmd1<<EOF\na\nb\nEOF\ncmd2<<EOF\nd\ne\nEOF",
      ["cmd1<<EOF\na\nb\nEOF", "cmd2<<EOF\nd\ne\nEOF"],
    ],
    ["multiple commands", "cmd1\ncmd2\ncmd3", ["cmd1", "cmd2", "cmd3"]],
    ["blank lines between", "cmd1\n\ncmd2\n\ncmd3", ["cmd1", "cmd2", "cmd3"]],
    [
      "blank lines in a heredoc",
      "cmd1<<EOF\na\nb\n\n\nEOF\ncmd2<<EOF\nd\ne\nEOF",
      ["cmd1<<EOF\na\nb\n\n\nEOF", "cmd2<<EOF\nd\ne\nEOF"],
    ],
    ["all blank lines", "\n\n\n", []],
    ["double-quoted newline", 'cmd1 "a\nb"', ['cmd1 "a\nb"']],
    ["single-quoted newline", "cmd1 'a\nb'", ["cmd1 'a\nb'"]],
    ["double quotes inside a heredoc", 'cmd1 <<EOF\n"a\nb"\nEOF', ['cmd1 <<EOF\n"a\nb"\nEOF']],
    ["single quotes inside a heredoc", "cmd1 <<EOF\n'a\nb'\nEOF", ["cmd1 <<EOF\n'a\nb'\nEOF"]],
    [
      "for loop over lines",
      "for i in {1..3};\n do echo 'hello world';\n done",
      ["for i in {1..3};\n do echo 'hello world';\n done"],
    ],
  ])("%s", (_name, input, want) => {
    expect(splitBashCommand(input)).toEqual(want);
  });
});

describe("splitBashCommand (our lexer)", () => {
  it.each<[string, string, string[]]>([
    ["empty", "", []],
    ["comments only", "# a\n   # b", []],
    ["comments between and after commands", "a # one\n# two\nb", ["a", "b"]],
    ["background job then a command", "a &\nb", ["a &", "b"]],
    ["array assignment over lines", "A=(1\n2)\necho done", ["A=(1\n2)", "echo done"]],
    ["[[ ]]", "[[ $env == $env ]]", ["[[ $env == $env ]]"]],
    [
      "if/fi with a quoted keyword inside",
      "if true\nthen echo fi\nfi\necho x",
      ["if true\nthen echo fi\nfi", "echo x"],
    ],
    [
      "done as an argument",
      "echo done\nwhile x; do\n echo done\ndone",
      ["echo done", "while x; do\n echo done\ndone"],
    ],
    [
      "case with bare and parenthesised patterns",
      "case $x in\n a) echo 1;;\n (b) echo 2;;\nesac\nz",
      ["case $x in\n a) echo 1;;\n (b) echo 2;;\nesac", "z"],
    ],
    [
      "case inside $(...)",
      "x=$(case a in a) echo )\n;; esac)\ny",
      ["x=$(case a in a) echo )\n;; esac)", "y"],
    ],
    ["heredoc inside $(...)", "echo $(cat <<EOF\n)\nEOF\n)\nq", ["echo $(cat <<EOF\n)\nEOF\n)", "q"]],
    ["function with the body on the next line", "f()\n{\n echo\n}\ng", ["f()\n{\n echo\n}", "g"]],
    ["function keyword", "function f {\n echo }\n}\ng", ["function f {\n echo }\n}", "g"]],
    [
      "<<- with a quoted delimiter",
      "cat <<-  'E O'\n\tx\n\tE O\nnext",
      ["cat <<-  'E O'\n\tx\n\tE O", "next"],
    ],
    ["continuation after && and |", "a &&\n b\nc |\n d", ["a &&\n b", "c |\n d"]],
    ["backticks over lines", "echo `echo\n`\nx", ["echo `echo\n`", "x"]],
    ["subshell and group over lines", "(\n a\n)\n{ b\n}", ["(\n a\n)", "{ b\n}"]],
    ["${...} over lines", "echo ${a:-\n}\nb", ["echo ${a:-\n}", "b"]],
    ["$'...' with an escaped quote", "echo $'a\\'\nb'\nc", ["echo $'a\\'\nb'", "c"]],
    ["unterminated quote stays one command", "echo 'abc\nd", ["echo 'abc\nd"]],
  ])("%s", (_name, input, want) => {
    expect(splitBashCommand(input)).toEqual(want);
  });
});

describe("checkBashCommand (bash -n)", () => {
  it.each(["(a", "a='", "for"])("rejects %j", async (command) => {
    const err = await checkBashCommand(command).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BashIncorrectSyntaxError);
    const info = (err as BashIncorrectSyntaxError).extraInfo as { bash_stdout: string; bash_stderr: string };
    expect(info.bash_stdout).toBe("");
    expect(info.bash_stderr).toMatch(/^bash: line \d+: (syntax error|unexpected EOF)/);
    // Upstream's exact layout: "... command \n{command!r}\n---- Stderr ----\n{stderr}\n---- Stdout ----\n{stdout}"
    expect((err as Error).message).toBe(
      `Error (exit code 2) while checking bash command \n${command === "a='" ? `"a='"` : `'${command}'`}\n---- Stderr ----\n${info.bash_stderr}\n---- Stdout ----\n`,
    );
  });

  it.each(["(a)", "a=''", "", "cat <<EOF\nunterminated"])("accepts %j", async (command) => {
    await expect(checkBashCommand(command)).resolves.toBeUndefined();
  });
});
