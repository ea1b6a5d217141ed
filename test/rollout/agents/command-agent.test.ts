/**
 * External agent commands: a small script talks to its proxy session over OPENAI_BASE_URL, with the generated
 * SWE-agent config, and completes a task; `swe_agent_timeout` kills its process group.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError } from "../../../src/config/errors.js";
import { validateAgentConfig } from "../../../src/rollout/agents/config.js";
import { SWEAgentConfigBuilder } from "../../../src/rollout/agents/swe-agent-config.js";
import { bash, exampleTask, RolloutHarness, ScriptedPolicy } from "../e2e/harness.js";

const h = new RolloutHarness();
let scratch = "";
beforeAll(async () => {
  await h.start();
  scratch = await mkdtemp(join(tmpdir(), "swerex-cmd-agent-test-"));
});
afterAll(async () => {
  await h.close();
  await rm(scratch, { recursive: true, force: true });
});

const AGENT = `${JSON.stringify(process.execPath)} ${JSON.stringify(resolve("test/rollout/agents/fixtures/one-shot-agent.mjs"))}`;
const FIX = `sed -i 's/_UNITS = {"h": 3600, "m": 60}/_UNITS = {"h": 3600, "m": 60, "s": 1}/' timekit/durations.py`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("agent config validation", () => {
  it("fills in the seed's defaults", () => {
    expect(validateAgentConfig({})).toMatchObject({
      type: "bash",
      max_turns: 15,
      max_steps: 30,
      execution_timeout: 300,
      swe_agent_timeout: 1800,
      kill_timeout: 15,
    });
  });
  it("max_steps 0 means no limit, as SWE-agent's per_instance_call_limit", () => {
    const c = validateAgentConfig({ max_steps: 0 });
    expect(c.max_steps).toBe(0);
    const yaml = parse(
      new SWEAgentConfigBuilder({
        instanceId: "t",
        repoPath: "/r",
        outputDir: "/o",
        apiBase: "http://x/v1",
        agent: c,
      }).toYaml(),
    ) as { agent: { model: { per_instance_call_limit: number } } };
    expect(yaml.agent.model.per_instance_call_limit).toBe(0);
    expect(() => validateAgentConfig({ max_steps: -1 })).toThrow("agent.max_steps");
  });
  it("names every bad key with what it accepts", () => {
    let err: unknown;
    try {
      validateAgentConfig({ max_turns: 0, swe_agent_timeout: "soon", bogus: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain("agent.max_turns: ");
    expect(msg).toContain("got 0");
    expect(msg).toContain('agent.swe_agent_timeout: expected number, got "soon"');
    expect(msg).toContain("agent.bogus: unknown key for agent");
    expect(() => validateAgentConfig({ type: "command" })).toThrow(
      'agent.command: required when agent.type is "command"',
    );
  });
});

describe("SWEAgentConfigBuilder", () => {
  it("gives every rollout a unique name and points the model at the proxy session", () => {
    const input = {
      instanceId: "t1",
      repoPath: "/r",
      outputDir: "/o",
      apiBase: "http://127.0.0.1:1/sessions/t1/v1",
      agent: validateAgentConfig({ max_steps: 7 }),
    };
    const a = new SWEAgentConfigBuilder(input);
    const b = new SWEAgentConfigBuilder(input);
    expect(a.uniqueName).toMatch(/^swerex-t1-[0-9a-f]{8}$/);
    expect(a.uniqueName).not.toBe(b.uniqueName);
    const cfg = parse(a.toYaml());
    expect(cfg.env).toEqual({
      repo: { path: "/r", type: "local" },
      deployment: { type: "local" },
      name: a.uniqueName,
    });
    expect(cfg.agent.model).toMatchObject({
      api_base: input.apiBase,
      per_instance_call_limit: 7,
      per_instance_cost_limit: 0,
    });
    expect(cfg.agent.tools.execution_timeout).toBe(300);
  });
});

describe("external agent command (local deployment)", () => {
  it("completes a task through its proxy session", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const policy = new ScriptedPolicy([bash(FIX)]);
    const r = await h.run(task, policy, { type: "command", command: AGENT });
    expect(r.error, r.agent_output_tail).toBeNull();
    expect(r).toMatchObject({
      status: "completed",
      exit_status: "submitted",
      failure_class: null,
      model_calls: 1,
      turns: 1,
      score: 1,
      resolved: true,
    });
    expect(r.agent_output_tail).toMatch(/agent swerex-examples__duration-seconds-[0-9a-f]{8} done/);
    expect(policy.seen[0]?.model).toBe("openai/swerex-policy");
    expect(r.trajectory[0]?.session_id).toBe("examples__duration-seconds");
    expect(await h.allStopped()).toBe(true);
  });

  it("takes the agent's .patch file first", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const r = await h.run(task, new ScriptedPolicy([bash(task.patch.replace(/\n$/, ""))]), {
      type: "command",
      command: AGENT,
      env: { AGENT_MODE: "patch-file" },
    });
    expect(r).toMatchObject({ exit_status: "submitted", patch_strategy: "patch_file", score: 1 });
    expect(r.patch).toBe(task.patch);
  });

  it("swe_agent_timeout kills the agent's process group and stops the sandbox", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const pidFile = join(scratch, "pid");
    const r = await h.run(task, new ScriptedPolicy([bash("true")]), {
      type: "command",
      command: AGENT,
      swe_agent_timeout: 2,
      kill_timeout: 1,
      env: { AGENT_MODE: "hang", AGENT_PID_FILE: pidFile },
    });
    expect(r).toMatchObject({
      status: "failed",
      exit_status: "timeout",
      failure_class: "agent_timeout",
      reward: null,
    });
    expect(existsSync(pidFile)).toBe(true);
    expect(alive(Number(readFileSync(pidFile, "utf8")))).toBe(false);
    expect(await h.allStopped()).toBe(true);
  });

  it("a failing agent command is an agent_error, with its output kept", async () => {
    const task = await exampleTask("examples__duration-seconds");
    const r = await h.run(task, new ScriptedPolicy([bash("true")]), {
      type: "command",
      command: "echo boom >&2; exit 7",
    });
    // The harness broke, not the policy: masked (score null), not a 0 to learn from.
    expect(r).toMatchObject({
      status: "failed",
      exit_status: "agent_error",
      failure_class: "agent_error",
      score: null,
    });
    expect(r.error).toBe("the agent command exited with 7");
    expect(r.agent_output_tail).toContain("boom");
  });
});
