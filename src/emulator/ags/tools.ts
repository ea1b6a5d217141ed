import type { z } from "zod";
import { AgsApiRules } from "../../deployment/ags/index.js";
import { AgsApiError } from "./api-error.js";
import { ClientTokens } from "./client-token.js";
import type { EmulatorContext } from "./context.js";
import { parseAgsDuration } from "./duration.js";
import { newToolId } from "./ids.js";
import { applyFilters, offsetPage, selectByIds } from "./paging.js";
import {
  CreateSandboxToolRequest,
  type CustomConfiguration,
  DeleteSandboxToolRequest,
  DescribeSandboxToolListRequest,
  type NetworkConfiguration,
  parseRequest,
  type StorageMount,
  TOOL_TYPES,
  UpdateSandboxToolRequest,
} from "./schemas.js";
import { formatTime } from "./timefmt.js";

export type ToolStatus = "CREATING" | "ACTIVE" | "DELETING" | "FAILED";

export interface ToolRecord {
  ToolId: string;
  ToolName: string;
  ToolType: string;
  Status: ToolStatus;
  StatusReason?: string;
  Description: string;
  DefaultTimeoutSeconds: number;
  NetworkConfiguration: z.output<typeof NetworkConfiguration>;
  Tags: { Key?: string; Value?: string }[];
  RoleArn: string;
  StorageMounts: z.output<typeof StorageMount>[];
  CustomConfiguration?: z.output<typeof CustomConfiguration>;
  ComputerConfiguration?: Record<string, unknown>;
  LogConfiguration?: Record<string, unknown>;
  Persistent: boolean;
  createdMs: number;
  updatedMs: number;
  seq: number;
}

const DEFAULT_TOOL_TIMEOUT_SECONDS = 300;
const TOOL_NAME_RE = /^[A-Za-z0-9_-]{1,50}$/;

/** Sandbox tools: CREATING → ACTIVE (or FAILED), DELETING → gone; names unique per account. */
export class ToolStore {
  private readonly tools = new Map<string, ToolRecord>();
  private readonly clientTokens = new ClientTokens();
  private seq = 0;
  /** Fault injection: the next created tools fail with this StatusReason. */
  private pendingFailures: string[] = [];
  /** Instances of a tool that still hold resources; set by the instance store. */
  activeInstanceCount: (toolId: string) => number = () => 0;

  constructor(private readonly ctx: EmulatorContext) {}

  list(): ToolRecord[] {
    return [...this.tools.values()].sort((a, b) => b.seq - a.seq);
  }

  get(toolId: string): ToolRecord | undefined {
    return this.tools.get(toolId);
  }

  findByName(name: string): ToolRecord | undefined {
    return [...this.tools.values()].find((t) => t.ToolName === name);
  }

  failNextCreation(reason: string): void {
    this.pendingFailures.push(reason);
  }

  render(t: ToolRecord): Record<string, unknown> {
    const fmt = (ms: number) => formatTime(ms, this.ctx.timestampStyle);
    return {
      ToolId: t.ToolId,
      ToolName: t.ToolName,
      ToolType: t.ToolType,
      Status: t.Status,
      Description: t.Description,
      DefaultTimeoutSeconds: t.DefaultTimeoutSeconds,
      NetworkConfiguration: t.NetworkConfiguration,
      Tags: t.Tags,
      CreateTime: fmt(t.createdMs),
      UpdateTime: fmt(t.updatedMs),
      RoleArn: t.RoleArn,
      StorageMounts: t.StorageMounts,
      CustomConfiguration: t.CustomConfiguration ?? null,
      LogConfiguration: t.LogConfiguration ?? null,
      ComputerConfiguration: t.ComputerConfiguration ?? null,
      Persistent: t.Persistent,
      StatusReason: t.StatusReason ?? "",
    };
  }

  create(body: unknown): Record<string, unknown> {
    const req = parseRequest(CreateSandboxToolRequest, body);
    const claim = this.clientTokens.claim(req);
    if (claim.earlierId !== undefined && this.tools.has(claim.earlierId)) return { ToolId: claim.earlierId };
    if (!TOOL_NAME_RE.test(req.ToolName)) {
      throw new AgsApiError(
        "InvalidParameterValue.SandboxTool",
        `ToolName "${req.ToolName}" is unavailable: use 1-50 characters of letters, digits, "_" and "-".`,
      );
    }
    if (this.findByName(req.ToolName)) {
      throw new AgsApiError(
        "InvalidParameterValue.SandboxTool",
        `SandboxTool name "${req.ToolName}" already exists.`,
      );
    }
    if (!(TOOL_TYPES as readonly string[]).includes(req.ToolType)) {
      throw new AgsApiError(
        "InvalidParameterValue.ToolType",
        `ToolType "${req.ToolType}" is invalid; valid: ${TOOL_TYPES.join(", ")}.`,
      );
    }
    if (req.Description !== undefined && req.Description.length > 200) {
      throw new AgsApiError("InvalidParameterValue", "The value of `Description` exceeds 200 characters.");
    }
    checkNetwork(req.NetworkConfiguration);
    this.validateMounts(req.StorageMounts ?? [], req.RoleArn);
    const defaultTimeout =
      req.DefaultTimeout === undefined
        ? DEFAULT_TOOL_TIMEOUT_SECONDS
        : parseAgsDuration(req.DefaultTimeout, "DefaultTimeout");
    const now = this.ctx.now();
    const tool: ToolRecord = {
      ToolId: newToolId(),
      ToolName: req.ToolName,
      ToolType: req.ToolType,
      Status: "CREATING",
      Description: req.Description ?? "",
      DefaultTimeoutSeconds: defaultTimeout,
      NetworkConfiguration: req.NetworkConfiguration,
      Tags: req.Tags ?? [],
      RoleArn: req.RoleArn ?? "",
      StorageMounts: req.StorageMounts ?? [],
      CustomConfiguration: req.CustomConfiguration,
      ComputerConfiguration: req.ComputerConfiguration,
      LogConfiguration: req.LogConfiguration,
      Persistent: req.Persistent ?? false,
      createdMs: now,
      updatedMs: now,
      seq: ++this.seq,
    };
    this.tools.set(tool.ToolId, tool);
    claim.remember(tool.ToolId);
    const failure = this.pendingFailures.shift();
    this.ctx.track(`tool ${tool.ToolId} create`, async () => {
      await this.ctx.sleep(this.ctx.toolTransitionMs);
      if (tool.Status !== "CREATING") return;
      tool.Status = failure === undefined ? "ACTIVE" : "FAILED";
      if (failure !== undefined) tool.StatusReason = failure;
      tool.updatedMs = this.ctx.now();
    });
    return { ToolId: tool.ToolId };
  }

  private validateMounts(mounts: z.output<typeof StorageMount>[], roleArn: string | undefined): void {
    const names = new Set<string>();
    for (const [i, m] of mounts.entries()) {
      if (!m.Name)
        throw new AgsApiError("InvalidParameterValue.StorageMount", `StorageMounts[${i}].Name is required.`);
      if (names.has(m.Name)) {
        throw new AgsApiError(
          "InvalidParameterValue.StorageMount",
          `StorageMounts name "${m.Name}" is duplicated.`,
        );
      }
      names.add(m.Name);
      if (!m.MountPath?.startsWith("/")) {
        throw new AgsApiError(
          "InvalidParameterValue.StorageMount",
          `StorageMounts[${i}].MountPath must be an absolute path.`,
        );
      }
      const cos = m.StorageSource?.Cos;
      if (cos) {
        if (!cos.BucketName) {
          throw new AgsApiError(
            "InvalidParameterValue.StorageMount",
            `StorageMounts[${i}].StorageSource.Cos.BucketName is required.`,
          );
        }
        if (cos.BucketPath !== undefined && !cos.BucketPath.startsWith("/")) {
          throw new AgsApiError(
            "InvalidParameterValue.StorageMount",
            `StorageMounts[${i}].StorageSource.Cos.BucketPath must be an absolute path.`,
          );
        }
        if (!roleArn)
          throw new AgsApiError("MissingParameter.RoleArn", "COS storage mounts require `RoleArn`.");
      }
      const image = m.StorageSource?.Image;
      if (image) {
        if (!image.Reference) {
          throw new AgsApiError(
            "InvalidParameterValue.StorageMount",
            `StorageMounts[${i}].StorageSource.Image.Reference is required.`,
          );
        }
        if (!roleArn)
          throw new AgsApiError("MissingParameter.RoleArn", "Image storage mounts require `RoleArn`.");
      }
    }
  }

  update(body: unknown): Record<string, unknown> {
    const req = parseRequest(UpdateSandboxToolRequest, body);
    if (req.NetworkConfiguration !== undefined) checkNetwork(req.NetworkConfiguration);
    const tool = this.require(req.ToolId);
    if (tool.Status === "DELETING") {
      throw new AgsApiError(
        "ResourceUnavailable.SandboxTool",
        `SandboxTool ${tool.ToolId} is being deleted.`,
      );
    }
    if (req.Description !== undefined) tool.Description = req.Description;
    if (req.NetworkConfiguration !== undefined) tool.NetworkConfiguration = req.NetworkConfiguration;
    if (req.Tags !== undefined) tool.Tags = req.Tags;
    if (req.CustomConfiguration !== undefined) tool.CustomConfiguration = req.CustomConfiguration;
    if (req.ComputerConfiguration !== undefined) tool.ComputerConfiguration = req.ComputerConfiguration;
    tool.updatedMs = this.ctx.now();
    return {};
  }

  delete(body: unknown): Record<string, unknown> {
    const req = parseRequest(DeleteSandboxToolRequest, body);
    const tool = this.require(req.ToolId);
    if (tool.Status === "DELETING") return {};
    const inUse = this.activeInstanceCount(tool.ToolId);
    if (inUse > 0) {
      throw new AgsApiError(
        "ResourceInUse.SandboxTool",
        `SandboxTool ${tool.ToolId} is in use by ${inUse} sandbox instance(s); stop them first.`,
      );
    }
    tool.Status = "DELETING";
    tool.updatedMs = this.ctx.now();
    this.ctx.track(`tool ${tool.ToolId} delete`, async () => {
      await this.ctx.sleep(this.ctx.toolTransitionMs);
      this.tools.delete(tool.ToolId);
    });
    return {};
  }

  describe(body: unknown): Record<string, unknown> {
    const req = parseRequest(DescribeSandboxToolListRequest, body);
    let items = selectByIds(this.list(), req.ToolIds, "ToolIds", (t) => t.ToolId);
    items = applyFilters(items, req.Filters, {
      ToolName: (t) => t.ToolName,
      ToolType: (t) => t.ToolType,
      Status: (t) => t.Status,
      ToolId: (t) => t.ToolId,
    });
    const page = offsetPage(items, req.Offset, req.Limit);
    return { SandboxToolSet: page.map((t) => this.render(t)), TotalCount: items.length };
  }

  require(toolId: string): ToolRecord {
    const tool = this.tools.get(toolId);
    if (!tool) throw new AgsApiError("ResourceNotFound.SandboxTool", `SandboxTool ${toolId} not found.`);
    return tool;
  }
}

/** VPC needs its subnets and security groups, in the API's id formats. */
function checkNetwork(net: z.output<typeof NetworkConfiguration>): void {
  if (net.NetworkMode !== "VPC") return;
  const subnets = net.VpcConfig?.SubnetIds ?? [];
  const groups = net.VpcConfig?.SecurityGroupIds ?? [];
  if (subnets.length === 0 || groups.length === 0) {
    throw new AgsApiError(
      "MissingParameter.VPCParameters",
      "NetworkMode VPC requires `VpcConfig.SubnetIds` and `VpcConfig.SecurityGroupIds`.",
    );
  }
  const badSubnet = subnets.find((id) => !AgsApiRules.SUBNET_ID_PATTERN.test(id));
  if (badSubnet !== undefined) {
    throw new AgsApiError("InvalidParameterValue.SubnetId", `Subnet ID "${badSubnet}" is invalid.`);
  }
  const badGroup = groups.find((id) => !AgsApiRules.SECURITY_GROUP_ID_PATTERN.test(id));
  if (badGroup !== undefined) {
    throw new AgsApiError(
      "InvalidParameterValue.SecurityGroupId",
      `Security group ID "${badGroup}" is invalid.`,
    );
  }
}
