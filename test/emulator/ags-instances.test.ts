import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgsEmulator, parseAgsDuration } from "../../src/emulator/ags/index.js";
import { activeTool, callApi, echoBackend, instanceStatus, ok, testEmulator, waitStatus } from "./helpers.js";

describe("AGS emulator: sandbox instances", () => {
  let emu: AgsEmulator;
  let toolId: string;
  const backend = echoBackend();
  beforeAll(async () => {
    emu = await testEmulator({
      backend,
      latency: { startMs: [150, 200], transitionMs: 100 },
      instanceQuota: 1000,
      defaultRateLimit: Number.POSITIVE_INFINITY,
      sweepIntervalMs: 50,
    });
    toolId = await activeTool(emu.endpoint, { DefaultTimeout: "10m" });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("DescribeSandboxInstanceList takes at most 100 InstanceIds", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `sbi-${String(i).padStart(8, "0")}`);
    const r = await callApi(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: ids });
    expect(r.Response.Error).toEqual({
      Code: "InvalidParameterValue.InstanceIds",
      Message: "At most 100 `InstanceIds` may be given.",
    });
    const none = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: ids.slice(0, 100) });
    expect(none).toMatchObject({ InstanceSet: [], TotalCount: 0 });
  });

  it("parses AGS durations and enforces 30 s..24 h", () => {
    expect(parseAgsDuration("300s")).toBe(300);
    expect(parseAgsDuration("5m")).toBe(300);
    expect(parseAgsDuration("1h")).toBe(3600);
    expect(parseAgsDuration("24h")).toBe(86400);
    for (const bad of ["29s", "25h", "5", "5d", "1.5h", " 5m", ""]) {
      expect(() => parseAgsDuration(bad)).toThrow(
        expect.objectContaining({ code: "InvalidParameterValue.Timeout" }),
      );
    }
  });

  it("starts STARTING → RUNNING with TimeoutSeconds, ExpiresAt = start + timeout, and Metadata", async () => {
    const before = Date.now();
    const r = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      Timeout: "5m",
      Metadata: [{ Name: "owner", Value: "test" }],
    });
    const inst = r.Instance;
    expect(inst.Status).toBe("STARTING");
    expect(inst.InstanceId).toMatch(/^[a-z0-9]{40}$/);
    expect(inst.ToolId).toBe(toolId);
    expect(inst.TimeoutSeconds).toBe(300);
    const expires = Date.parse(inst.ExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 300_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 300_000 + 1000);
    expect(inst.Metadata).toEqual([{ Name: "owner", Value: "test" }]);
    expect(inst.StopReason).toBeUndefined();
    await waitStatus(emu.endpoint, inst.InstanceId, "RUNNING");
  });

  it("uses the tool's DefaultTimeout when Timeout is omitted; bad Timeout → InvalidParameterValue.Timeout", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    expect(r.Instance.TimeoutSeconds).toBe(600);
    const bad = await callApi(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "10s" });
    expect(bad.Response.Error.Code).toBe("InvalidParameterValue.Timeout");
    const none = await callApi(emu.endpoint, "StartSandboxInstance", { Timeout: "5m" });
    expect(none.Response.Error.Code).toBe("MissingParameter");
    const unknownTool = await callApi(emu.endpoint, "StartSandboxInstance", { ToolId: "sdt-zzzzzzzz" });
    expect(unknownTool.Response.Error.Code).toBe("ResourceNotFound.SandboxTool");
  });

  it("starts by ToolName and applies CustomConfiguration overrides over the tool's", async () => {
    const named = await activeTool(emu.endpoint, {
      CustomConfiguration: {
        Image: "base:1",
        Command: ["/bin/sh", "-c"],
        Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }],
      },
    });
    const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [named] });
    const r = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolName: d.SandboxToolSet[0].ToolName,
      CustomConfiguration: { Image: "override:2", ImageRegistryType: "system" },
    });
    expect(r.Instance.ToolId).toBe(named);
    expect(r.Instance.CustomConfiguration).toMatchObject({
      Image: "override:2",
      ImageRegistryType: "system",
      Command: ["/bin/sh", "-c"],
      Ports: [{ Name: "http", Port: 8000, Protocol: "TCP" }],
    });
  });

  it("ClientToken: the same token returns the same instance and never starts a second one", async () => {
    const before = emu.listInstances().length;
    const a = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      ClientToken: "idem-1",
      Timeout: "5m",
    });
    const b = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      ClientToken: "idem-1",
      Timeout: "5m",
    });
    expect(b.Instance.InstanceId).toBe(a.Instance.InstanceId);
    await waitStatus(emu.endpoint, a.Instance.InstanceId, "RUNNING");
    const c = await ok(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      ClientToken: "idem-1",
      Timeout: "5m",
    });
    expect(c.Instance.InstanceId).toBe(a.Instance.InstanceId);
    expect(c.Instance.Status).toBe("RUNNING");
    expect(emu.listInstances().length - before).toBe(1);
    const other = await callApi(emu.endpoint, "StartSandboxInstance", {
      ToolId: toolId,
      ClientToken: "idem-1",
      Timeout: "1h",
    });
    expect(other.Response.Error.Code).toBe("FailedOperation.DuplicateRequest");
  });

  it("stop: STOPPING → STOPPED with StopReason manual; stays listed; a second stop is rejected", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    const id = r.Instance.InstanceId;
    await waitStatus(emu.endpoint, id, "RUNNING");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
    expect(await instanceStatus(emu.endpoint, id)).toBe("STOPPING");
    await waitStatus(emu.endpoint, id, "STOPPED");
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].StopReason).toBe("manual");
    const again = await callApi(emu.endpoint, "StopSandboxInstance", { InstanceId: id });
    expect(again.Response.Error.Code).toBe("UnsupportedOperation.SandboxInstance");
    const token = await callApi(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: id });
    expect(token.Response.Error.Code).toBe("ResourceNotFound.SandboxInstance");
    const update = await callApi(emu.endpoint, "UpdateSandboxInstance", { InstanceId: id, Timeout: "5m" });
    expect(update.Response.Error.Code).toBe("UnsupportedOperation.SandboxInstance");
    const nf = await callApi(emu.endpoint, "StopSandboxInstance", { InstanceId: "doesnotexist" });
    expect(nf.Response.Error).toEqual({
      Code: "ResourceNotFound.SandboxInstance",
      Message: "sandbox instance not found",
    });
  });

  it("a stop during STARTING never leaves a running backend", async () => {
    const servers = backend.servers.size;
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: r.Instance.InstanceId });
    await waitStatus(emu.endpoint, r.Instance.InstanceId, "STOPPED");
    await new Promise((res) => setTimeout(res, 300));
    expect(backend.servers.size).toBe(servers);
  });

  it("pause → PAUSING → PAUSED; resume → RESUMING → RUNNING honouring Timeout", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "5m" });
    const id = r.Instance.InstanceId;
    await waitStatus(emu.endpoint, id, "RUNNING");
    const p = await ok(emu.endpoint, "PauseSandboxInstance", { InstanceId: id });
    expect(p.InstanceStatus).toBe("PAUSING");
    await waitStatus(emu.endpoint, id, "PAUSED");
    const pauseAgain = await callApi(emu.endpoint, "PauseSandboxInstance", { InstanceId: id });
    expect(pauseAgain.Response.Error.Code).toBe("UnsupportedOperation.SandboxInstance");
    const upd = await callApi(emu.endpoint, "UpdateSandboxInstance", { InstanceId: id, Timeout: "5m" });
    expect(upd.Response.Error.Code).toBe("UnsupportedOperation.SandboxInstance");
    const t0 = Date.now();
    await ok(emu.endpoint, "ResumeSandboxInstance", { InstanceId: id, Timeout: "2h" });
    expect(await instanceStatus(emu.endpoint, id)).toBe("RESUMING");
    await waitStatus(emu.endpoint, id, "RUNNING");
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].TimeoutSeconds).toBe(7200);
    expect(Date.parse(d.InstanceSet[0].ExpiresAt)).toBeGreaterThanOrEqual(t0 + 7200_000 - 1000);
  });

  it("UpdateSandboxInstance resets ExpiresAt = now + Timeout", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "1m" });
    const id = r.Instance.InstanceId;
    await waitStatus(emu.endpoint, id, "RUNNING");
    const t0 = Date.now();
    await ok(emu.endpoint, "UpdateSandboxInstance", { InstanceId: id, Timeout: "3600s" });
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].TimeoutSeconds).toBe(3600);
    const exp = Date.parse(d.InstanceSet[0].ExpiresAt);
    expect(exp).toBeGreaterThanOrEqual(t0 + 3600_000 - 1000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
  });

  it("an instance past its Timeout stops with StopReason timeout", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId, Timeout: "30s" });
    const id = r.Instance.InstanceId;
    await waitStatus(emu.endpoint, id, "RUNNING");
    // Jump the clock: 30 s is the API minimum, so expire through the same path a real expiry takes.
    emu.inject.expireInstance(id);
    await waitStatus(emu.endpoint, id, "STOPPED");
    const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", { InstanceIds: [id] });
    expect(d.InstanceSet[0].StopReason).toBe("timeout");
  });

  it("lists with Filters, ToolId, Offset/Limit and NextToken/MaxResults/NeedTotalCount", async () => {
    const t2 = await activeTool(emu.endpoint);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await ok(emu.endpoint, "StartSandboxInstance", { ToolId: t2 })).Instance.InstanceId);
    for (const id of ids) await waitStatus(emu.endpoint, id, "RUNNING");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: ids[0] });
    await waitStatus(emu.endpoint, ids[0] as string, "STOPPED");
    const byTool = await ok(emu.endpoint, "DescribeSandboxInstanceList", { ToolId: t2 });
    expect(byTool.TotalCount).toBe(5);
    // Newest first.
    expect(byTool.InstanceSet.map((i: { InstanceId: string }) => i.InstanceId)).toEqual([...ids].reverse());
    const running = await ok(emu.endpoint, "DescribeSandboxInstanceList", {
      Filters: [
        { Name: "ToolId", Values: [t2] },
        { Name: "Status", Values: ["RUNNING"] },
      ],
    });
    expect(running.TotalCount).toBe(4);
    const stopped = await ok(emu.endpoint, "DescribeSandboxInstanceList", {
      ToolId: t2,
      Filters: [{ Name: "Status", Values: ["STOPPED", "FAILED"] }],
    });
    expect(stopped.InstanceSet.map((i: { InstanceId: string }) => i.InstanceId)).toEqual([ids[0]]);
    const page = await ok(emu.endpoint, "DescribeSandboxInstanceList", { ToolId: t2, Offset: 2, Limit: 2 });
    expect(page.InstanceSet.map((i: { InstanceId: string }) => i.InstanceId)).toEqual([ids[2], ids[1]]);
    expect(page.TotalCount).toBe(5);
    // Token paging.
    const seen: string[] = [];
    let next: string | undefined;
    let first = true;
    do {
      const r = await ok(emu.endpoint, "DescribeSandboxInstanceList", {
        ToolId: t2,
        MaxResults: 2,
        NeedTotalCount: first,
        ...(next ? { NextToken: next } : {}),
      });
      if (first) expect(r.TotalCount).toBe(5);
      else expect(r.TotalCount).toBe(0);
      first = false;
      seen.push(...r.InstanceSet.map((i: { InstanceId: string }) => i.InstanceId));
      next = r.NextToken;
    } while (next);
    expect(seen).toEqual([...ids].reverse());
    const p1 = await ok(emu.endpoint, "DescribeSandboxInstanceList", { ToolId: t2, MaxResults: 2 });
    const changed = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {
      ToolId: toolId,
      MaxResults: 2,
      NextToken: p1.NextToken,
    });
    expect(changed.Response.Error.Code).toBe("InvalidParameterValue");
    const tooMany = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {
      InstanceIds: Array.from({ length: 101 }, (_, i) => `id${i}`),
    });
    expect(tooMany.Response.Error.Code).toBe("InvalidParameterValue.InstanceIds");
    const limit = await callApi(emu.endpoint, "DescribeSandboxInstanceList", { Limit: 101 });
    expect(limit.Response.Error.Code).toBe("InvalidParameterValue");
  });

  it("AcquireSandboxInstanceToken returns sit_ + base64url(32 bytes) and an ISO ExpiresAt with ms and Z", async () => {
    const r = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: toolId });
    const t0 = Date.now();
    const t = await ok(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: r.Instance.InstanceId });
    expect(t.Token).toMatch(/^sit_[A-Za-z0-9_-]{43}$/);
    expect(t.ExpiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(t.ExpiresAt)).toBeGreaterThanOrEqual(t0 + 3600_000 - 1000);
    expect(t.TrafficToken).toMatch(/^[0-9a-f]{64}$/);
    const nf = await callApi(emu.endpoint, "AcquireSandboxInstanceToken", { InstanceId: "nope" });
    expect(nf.Response.Error.Code).toBe("ResourceNotFound.SandboxInstance");
  });
});

describe("AGS emulator: quota, rate limits, faults, timestamps", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator({
      instanceQuota: 2,
      rateLimits: { DescribeSandboxToolList: 5 },
      defaultRateLimit: 1000,
      timestampStyle: "+08:00",
    });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("LimitExceeded.SandboxInstance with the real message; a stopped instance frees its slot", async () => {
    const tool = await activeTool(emu.endpoint);
    const a = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
    await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
    const over = await callApi(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
    expect(over.Response.Error).toEqual({
      Code: "LimitExceeded.SandboxInstance",
      Message: "Sandbox instance quota exceeded. Current: 2, Max: 2.",
    });
    await waitStatus(emu.endpoint, a.Instance.InstanceId, "RUNNING");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: a.Instance.InstanceId });
    await waitStatus(emu.endpoint, a.Instance.InstanceId, "STOPPED");
    const again = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: tool });
    expect(again.Instance.InstanceId).toMatch(/^[a-z0-9]{40}$/);
    // +08:00 timestamps, as the real service emits.
    expect(again.Instance.CreateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  });

  it("per-action rate limit → RequestLimitExceeded; other actions unaffected", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, () => callApi(emu.endpoint, "DescribeSandboxToolList", {})),
    );
    const elapsed = Date.now() - t0;
    const codes = results.map((r) => r.Response.Error?.Code ?? "OK");
    expect(codes.every((c) => c === "OK" || c === "RequestLimitExceeded")).toBe(true);
    const passed = codes.filter((c) => c === "OK").length;
    if (elapsed < 1000) {
      // All 30 hits fell in one second: exactly the limit passed.
      expect(passed).toBe(5);
    } else {
      // A loaded machine spread them over more than a second: at most 5 per started second.
      expect(passed).toBeGreaterThanOrEqual(5);
      expect(passed).toBeLessThanOrEqual(5 * Math.ceil(elapsed / 1000));
    }
    expect(codes.filter((c) => c === "RequestLimitExceeded").length).toBe(30 - passed);
    const limited = results.find((r) => r.Response.Error)?.Response;
    if (passed < 30) expect(limited?.Error.Message).toContain("`5`");
    const other = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {});
    expect(other.Response.Error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100));
    const later = await callApi(emu.endpoint, "DescribeSandboxToolList", {});
    expect(later.Response.Error).toBeUndefined();
  });

  it("injected error rate per action with a chosen code", async () => {
    emu.inject.setErrorRate("DescribeSandboxInstanceList", 1, "InternalError");
    const r = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {});
    expect(r.status).toBe(200);
    expect(r.Response.Error.Code).toBe("InternalError");
    emu.inject.setErrorRate("DescribeSandboxInstanceList", 1, "FailedOperation.DependencyUnavailable");
    const r2 = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {});
    expect(r2.Response.Error.Code).toBe("FailedOperation.DependencyUnavailable");
    emu.inject.setErrorRate("DescribeSandboxInstanceList", 0);
    const r3 = await callApi(emu.endpoint, "DescribeSandboxInstanceList", {});
    expect(r3.Response.Error).toBeUndefined();
  });

  it("injected API latency delays answers", async () => {
    emu.inject.setApiLatency(300);
    const t0 = Date.now();
    await ok(emu.endpoint, "DescribeSandboxInstanceList", {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    emu.inject.setApiLatency(0);
  });

  it("lists instances and tools through the inspection helpers", () => {
    expect(emu.listTools()).toHaveLength(1);
    expect(emu.listInstances().length).toBeGreaterThanOrEqual(3);
    expect(emu.callCounts().StartSandboxInstance).toBe(4);
  });
});
