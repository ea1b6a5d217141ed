import { describe, expect, it } from "vitest";
import { ConfigError, parseDottedFlags, parseValue } from "../../src/config/index.js";

describe("parseValue", () => {
  it("decodes JSON scalars, arrays, objects and quoted strings", () => {
    expect(parseValue("8000")).toBe(8000);
    expect(parseValue("-1.5")).toBe(-1.5);
    expect(parseValue("true")).toBe(true);
    expect(parseValue("false")).toBe(false);
    expect(parseValue("null")).toBe(null);
    expect(parseValue('["--cpus","2"]')).toEqual(["--cpus", "2"]);
    expect(parseValue('{"a":{"b":1}}')).toEqual({ a: { b: 1 } });
    expect(parseValue('"123"')).toBe("123");
  });

  it("keeps anything that is not JSON as the literal string", () => {
    expect(parseValue("python:3.11")).toBe("python:3.11");
    expect(parseValue("0123")).toBe("0123");
    expect(parseValue("1h")).toBe("1h");
    expect(parseValue("--cpus")).toBe("--cpus");
    expect(parseValue("[not json")).toBe("[not json");
    expect(parseValue("")).toBe("");
    expect(parseValue("True")).toBe("True");
  });
});

describe("parseDottedFlags", () => {
  it("builds the nested object from --a.b=c and --a.b c", () => {
    const r = parseDottedFlags([
      "--instances.deployment.type=docker",
      "--instances.deployment.image",
      "python:3.11",
      `--instances.deployment.docker_args=["--cpus","2"]`,
      "--instances.deployment.port=8000",
    ]);
    expect(r.values).toEqual({
      instances: {
        deployment: { type: "docker", image: "python:3.11", docker_args: ["--cpus", "2"], port: 8000 },
      },
    });
    expect(r.positionals).toEqual([]);
    expect(r.rest).toEqual([]);
  });

  it("splits at the first =, so values may contain =", () => {
    expect(parseDottedFlags(["--env.A=x=y"]).values).toEqual({ env: { A: "x=y" } });
  });

  it("puts everything after -- in rest, untouched, and other words in positionals", () => {
    const r = parseDottedFlags(["run1", "--x=1", "word", "--", "echo", "--not-a-flag", "--", "x"]);
    expect(r.positionals).toEqual(["run1", "word"]);
    expect(r.rest).toEqual(["echo", "--not-a-flag", "--", "x"]);
    expect(r.values).toEqual({ x: 1 });
  });

  it("treats a flag followed by a flag, by --, or by nothing as true", () => {
    const r = parseDottedFlags(["--a", "--b", "--", "cmd"]);
    expect(r.values).toEqual({ a: true, b: true });
    expect(parseDottedFlags(["--c"]).values).toEqual({ c: true });
  });

  it("takes a negative number after a flag as its value", () => {
    expect(parseDottedFlags(["--n", "-3"]).values).toEqual({ n: -3 });
  });

  it("reads --no-x as x=false without consuming the next word", () => {
    const r = parseDottedFlags(["--no-instances.deployment.remove_container", "pos"]);
    expect(r.values).toEqual({ instances: { deployment: { remove_container: false } } });
    expect(r.positionals).toEqual(["pos"]);
  });

  it("keeps the last value of a repeated flag and every entry in order", () => {
    const r = parseDottedFlags(["--a.b=1", "--a.b=2"]);
    expect(r.values).toEqual({ a: { b: 2 } });
    expect(r.entries.map((e) => e.value)).toEqual([1, 2]);
  });

  it("merges keys set below a JSON object flag", () => {
    expect(parseDottedFlags(['--d={"type":"local"}', "--d.x=1"]).values).toEqual({
      d: { type: "local", x: 1 },
    });
  });

  it("reads -h as help", () => {
    expect(parseDottedFlags(["-h"]).values).toEqual({ help: true });
  });

  it("rejects empty segments, prototype keys and value/object conflicts, naming the flag", () => {
    expect(() => parseDottedFlags(["--a..b=1"])).toThrow("--a..b=1: empty key segment");
    expect(() => parseDottedFlags(["--=1"])).toThrow(ConfigError);
    expect(() => parseDottedFlags(["--__proto__.x=1"])).toThrow('"__proto__" is not allowed');
    expect(() => parseDottedFlags(["--a=1", "--a.b=2"])).toThrow(
      "--a.b: conflicts with --a, which is not an object",
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
