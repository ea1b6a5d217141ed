import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgsEmulator } from "../../src/emulator/ags/index.js";
import { activeTool, callApi, ok, testEmulator, waitFor } from "./helpers.js";

describe("AGS emulator: sandbox tools", () => {
  let emu: AgsEmulator;
  beforeAll(async () => {
    emu = await testEmulator({
      latency: { toolMs: 300 },
      defaultRateLimit: Number.POSITIVE_INFINITY,
    });
  });
  afterAll(async () => {
    await emu?.close();
  });
  const tool = (name: string, extra: Record<string, unknown> = {}) => ({
    ToolName: name,
    ToolType: "custom",
    NetworkConfiguration: { NetworkMode: "PUBLIC" },
    ...extra,
  });

  it("creates a tool CREATING → ACTIVE with an sdt- ID and DefaultTimeoutSeconds", async () => {
    const r = await ok(
      emu.endpoint,
      "CreateSandboxTool",
      tool("alpha", { DefaultTimeout: "5m", Description: "d" }),
    );
    expect(r.ToolId).toMatch(/^sdt-[a-z0-9]{8}$/);
    const first = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [r.ToolId] });
    expect(first.SandboxToolSet[0].Status).toBe("CREATING");
    await waitFor("ACTIVE", async () => {
      const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [r.ToolId] });
      return d.SandboxToolSet[0].Status === "ACTIVE" ? d : undefined;
    });
    const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [r.ToolId] });
    expect(d.SandboxToolSet[0]).toMatchObject({
      ToolId: r.ToolId,
      ToolName: "alpha",
      ToolType: "custom",
      DefaultTimeoutSeconds: 300,
      Description: "d",
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
    });
    expect(d.SandboxToolSet[0].CreateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("rejects a duplicate name with InvalidParameterValue.SandboxTool 'already exists'", async () => {
    const r = await callApi(emu.endpoint, "CreateSandboxTool", tool("alpha"));
    expect(r.Response.Error.Code).toBe("InvalidParameterValue.SandboxTool");
    expect(r.Response.Error.Message).toContain("already exists");
  });

  it("DescribeSandboxToolList takes at most 100 ToolIds", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `sdt-${String(i).padStart(8, "0")}`);
    const tooMany = await callApi(emu.endpoint, "DescribeSandboxToolList", { ToolIds: ids });
    expect(tooMany.Response.Error).toEqual({
      Code: "InvalidParameterValue.ToolIds",
      Message: "At most 100 `ToolIds` may be given.",
    });
    const none = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: ids.slice(0, 100) });
    expect(none).toMatchObject({ SandboxToolSet: [], TotalCount: 0 });
  });

  it("validates required fields, enums, unknown fields and DefaultTimeout", async () => {
    const missing = await callApi(emu.endpoint, "CreateSandboxTool", {
      ToolType: "custom",
      NetworkConfiguration: { NetworkMode: "PUBLIC" },
    });
    expect(missing.Response.Error.Code).toBe("MissingParameter");
    expect(missing.Response.Error.Message).toContain("ToolName");
    const type = await callApi(emu.endpoint, "CreateSandboxTool", tool("beta", { ToolType: "bogus" }));
    expect(type.Response.Error.Code).toBe("InvalidParameterValue.ToolType");
    const unknown = await callApi(emu.endpoint, "CreateSandboxTool", tool("beta", { StatusMessage: "x" }));
    expect(unknown.Response.Error.Code).toBe("UnknownParameter");
    const timeout = await callApi(emu.endpoint, "CreateSandboxTool", tool("beta", { DefaultTimeout: "25h" }));
    expect(timeout.Response.Error.Code).toBe("InvalidParameterValue.Timeout");
    const mount = await callApi(
      emu.endpoint,
      "CreateSandboxTool",
      tool("beta", {
        StorageMounts: [
          { Name: "rex", MountPath: "/nix", StorageSource: { Image: { Reference: "img", SubPath: "/nix" } } },
        ],
      }),
    );
    expect(mount.Response.Error.Code).toBe("MissingParameter.RoleArn");
  });

  it("ClientToken makes CreateSandboxTool idempotent", async () => {
    const a = await ok(emu.endpoint, "CreateSandboxTool", tool("gamma", { ClientToken: "ct-1" }));
    const b = await ok(emu.endpoint, "CreateSandboxTool", tool("gamma", { ClientToken: "ct-1" }));
    expect(b.ToolId).toBe(a.ToolId);
    const other = await callApi(emu.endpoint, "CreateSandboxTool", tool("gamma2", { ClientToken: "ct-1" }));
    expect(other.Response.Error).toEqual({
      Code: "FailedOperation.DuplicateRequest",
      Message: "A request with the same ClientToken but different parameters was already made.",
    });
  });

  it("filters by ToolName/ToolType/Status and pages with Offset/Limit (≤100)", async () => {
    for (const n of ["p1", "p2", "p3"])
      await ok(emu.endpoint, "CreateSandboxTool", tool(n, { ToolType: "swebench" }));
    const byType = await ok(emu.endpoint, "DescribeSandboxToolList", {
      Filters: [{ Name: "ToolType", Values: ["swebench"] }],
    });
    expect(byType.TotalCount).toBe(3);
    const byName = await ok(emu.endpoint, "DescribeSandboxToolList", {
      Filters: [
        { Name: "ToolName", Values: ["p1", "p2"] },
        { Name: "ToolType", Values: ["swebench"] },
      ],
    });
    expect(byName.SandboxToolSet.map((t: { ToolName: string }) => t.ToolName).sort()).toEqual(["p1", "p2"]);
    const page = await ok(emu.endpoint, "DescribeSandboxToolList", {
      Filters: [{ Name: "ToolType", Values: ["swebench"] }],
      Offset: 1,
      Limit: 1,
    });
    expect(page.TotalCount).toBe(3);
    expect(page.SandboxToolSet).toHaveLength(1);
    expect(page.SandboxToolSet[0].ToolName).toBe("p2");
    const big = await callApi(emu.endpoint, "DescribeSandboxToolList", { Limit: 101 });
    expect(big.Response.Error.Code).toBe("InvalidParameterValue");
    const badFilter = await callApi(emu.endpoint, "DescribeSandboxToolList", {
      Filters: [{ Name: "Nope", Values: ["x"] }],
    });
    expect(badFilter.Response.Error.Code).toBe("InvalidParameterValue");
  });

  it("updates a tool; unknown IDs give ResourceNotFound.SandboxTool", async () => {
    const id = await activeTool(emu.endpoint);
    await ok(emu.endpoint, "UpdateSandboxTool", { ToolId: id, Description: "new" });
    const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [id] });
    expect(d.SandboxToolSet[0].Description).toBe("new");
    const nf = await callApi(emu.endpoint, "UpdateSandboxTool", { ToolId: "sdt-00000000", Description: "x" });
    expect(nf.Response.Error.Code).toBe("ResourceNotFound.SandboxTool");
    const mounts = await callApi(emu.endpoint, "UpdateSandboxTool", { ToolId: id, StorageMounts: [] });
    expect(mounts.Response.Error.Code).toBe("UnknownParameter");
  });

  it("refuses to delete a tool in use (ResourceInUse.SandboxTool); then DELETING → gone", async () => {
    const id = await activeTool(emu.endpoint);
    const start = await ok(emu.endpoint, "StartSandboxInstance", { ToolId: id });
    const inUse = await callApi(emu.endpoint, "DeleteSandboxTool", { ToolId: id });
    expect(inUse.Response.Error.Code).toBe("ResourceInUse.SandboxTool");
    await ok(emu.endpoint, "StopSandboxInstance", { InstanceId: start.Instance.InstanceId });
    await waitFor("stopped", async () => {
      const d = await ok(emu.endpoint, "DescribeSandboxInstanceList", {
        InstanceIds: [start.Instance.InstanceId],
      });
      return d.InstanceSet[0].Status === "STOPPED" ? true : undefined;
    });
    await ok(emu.endpoint, "DeleteSandboxTool", { ToolId: id });
    const deleting = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [id] });
    expect(deleting.SandboxToolSet[0].Status).toBe("DELETING");
    await waitFor("gone", async () => {
      const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [id] });
      return d.TotalCount === 0 ? true : undefined;
    });
    const after = await callApi(emu.endpoint, "DeleteSandboxTool", { ToolId: id });
    expect(after.Response.Error.Code).toBe("ResourceNotFound.SandboxTool");
  });

  it("a tool can end FAILED with a StatusReason (fault injection), and cannot start instances", async () => {
    emu.inject.failNextToolCreation("ImagePullFailed");
    const r = await ok(emu.endpoint, "CreateSandboxTool", tool("broken"));
    const failed = await waitFor("FAILED", async () => {
      const d = await ok(emu.endpoint, "DescribeSandboxToolList", { ToolIds: [r.ToolId] });
      return d.SandboxToolSet[0].Status === "FAILED" ? d.SandboxToolSet[0] : undefined;
    });
    expect(failed.StatusReason).toBe("ImagePullFailed");
    const s = await callApi(emu.endpoint, "StartSandboxInstance", { ToolName: "broken" });
    expect(s.Response.Error.Code).toBe("ResourceUnavailable.SandboxTool");
    expect(s.Response.Error.Message).toContain("is not active");
  });
});
