import { describe, expect, it } from "vitest";
import { z } from "zod";
import { coerceStringFields, loadConfig, zodIssues } from "../../src/config/index.js";

const Schema = z.strictObject({
  type: z.literal("docker").default("docker"),
  pull: z.enum(["never", "always", "missing"]).default("missing"),
  port: z.number().int().nullable().default(null),
  token: z.string().default(""),
});

describe("zodIssues", () => {
  it("names the flag and the accepted values", () => {
    const c = loadConfig({
      argv: ["--instances.deployment.pull=sometimes"],
      env: {},
      accept: ["instances.deployment"],
    });
    const input = c.get("instances.deployment");
    const r = Schema.safeParse(input);
    expect(r.success).toBe(false);
    if (r.success) return;
    const issues = zodIssues(r.error, { input, where: (p) => c.where(["instances", "deployment", ...p]) });
    expect(issues).toEqual([
      {
        where: "--instances.deployment.pull",
        message: 'expected one of never|always|missing, got "sometimes"',
      },
    ]);
  });

  it("lists accepted keys for an unknown key and quotes wrong types", () => {
    const input = { port: "abc", imagee: "x" };
    const r = Schema.safeParse(input);
    if (r.success) throw new Error("should fail");
    const issues = zodIssues(r.error, {
      input,
      where: (p) => p.join("."),
      acceptedKeys: Object.keys(Schema.shape),
      owner: 'deployment type "docker"',
    });
    expect(issues).toContainEqual({ where: "port", message: 'expected number, got "abc"' });
    expect(issues).toContainEqual({
      where: "imagee",
      message: 'unknown key for deployment type "docker"; accepted keys: type, pull, port, token',
    });
  });
});

describe("coerceStringFields", () => {
  it("turns numbers and booleans into text only where the field is a string", () => {
    expect(coerceStringFields(Schema, { token: 123, port: 8000, pull: true })).toEqual({
      token: "123",
      port: 8000,
      pull: true,
    });
  });
});
