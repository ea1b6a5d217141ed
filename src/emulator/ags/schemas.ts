import { z } from "zod";
import { AgsApiRules } from "../../deployment/ags/index.js";
import { AgsApiError } from "./api-error.js";

const { CPU_PATTERN, isLogFilePath, MAX_LOG_FILES, MAX_PORT, MEMORY_PATTERN, MIN_PORT, STORAGE_SIZES } =
  AgsApiRules;

/**
 * Request schemas of the AGS actions the emulator implements (field names from ags_models.d.ts 4.1.313).
 * Top-level objects are strict, as the real API answers `UnknownParameter` for a field it does not know;
 * nested structures are loose so newer optional fields pass.
 */

const loose = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);

export const Filter = loose({ Name: z.string(), Values: z.array(z.string()) });
export const Tag = loose({ Key: z.string().optional(), Value: z.string().optional() });
export const NetworkConfiguration = loose({
  NetworkMode: z.enum(["PUBLIC", "VPC", "SANDBOX"]),
  VpcConfig: loose({
    SubnetIds: z.array(z.string()).optional(),
    SecurityGroupIds: z.array(z.string()).optional(),
  }).optional(),
});
/** A port number as the API accepts it (refusals are `InvalidParameterValue`). */
const Port = z
  .number()
  .int()
  .refine((p) => p >= MIN_PORT && p <= MAX_PORT, `must be a port between ${MIN_PORT} and ${MAX_PORT}`);
/** A probe path: absolute, and never an authority (`//host` or `@host:port/x` would leave the sandbox). */
const ProbePath = z
  .string()
  .refine((p) => p.startsWith("/") && !p.startsWith("//"), 'must be an absolute path such as "/health"');
export const Probe = loose({
  HttpGet: loose({
    Path: ProbePath.optional(),
    Port: Port.optional(),
    Scheme: z.string().optional(),
  }).optional(),
  ReadyTimeoutMs: z.number().int().nonnegative().optional(),
  ProbeTimeoutMs: z.number().int().nonnegative().optional(),
  ProbePeriodMs: z.number().int().nonnegative().optional(),
  SuccessThreshold: z.number().int().nonnegative().optional(),
  FailureThreshold: z.number().int().nonnegative().optional(),
});
export const CustomConfiguration = loose({
  Image: z.string().optional(),
  ImageRegistryType: z.string().optional(),
  Command: z.array(z.string()).optional(),
  Args: z.array(z.string()).optional(),
  Env: z.array(loose({ Name: z.string().optional(), Value: z.string().optional() })).optional(),
  Ports: z
    .array(
      loose({
        Name: z.string().optional(),
        Port: Port.optional(),
        Protocol: z.string().optional(),
      }),
    )
    .optional(),
  Resources: loose({
    CPU: z.string().regex(CPU_PATTERN, 'must be a CPU amount such as "1" or "500m"').optional(),
    Memory: z.string().regex(MEMORY_PATTERN, 'must be a memory size such as "1Gi" or "512Mi"').optional(),
    Storage: z
      .string()
      .refine(
        (v) => v === "" || (STORAGE_SIZES as readonly string[]).includes(v),
        `must be one of ${STORAGE_SIZES.join(", ")}`,
      )
      .nullable()
      .optional(),
  }).optional(),
  Probe: Probe.optional(),
  DNSConfig: loose({ Servers: z.array(z.string()) }).optional(),
});
export const StorageMount = loose({
  Name: z.string().optional(),
  MountPath: z.string().optional(),
  ReadOnly: z.boolean().optional(),
  StorageSource: loose({
    Image: loose({
      Reference: z.string().optional(),
      ImageRegistryType: z.string().optional(),
      SubPath: z.string().optional(),
    }).optional(),
    Cos: loose({
      Endpoint: z.string().optional(),
      BucketName: z.string().optional(),
      BucketPath: z.string().optional(),
    }).optional(),
    Cfs: z.record(z.string(), z.unknown()).optional(),
    AgentBucket: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
});
export const MountOption = loose({
  Name: z.string().optional(),
  MountPath: z.string().optional(),
  SubPath: z.string().optional(),
  ReadOnly: z.boolean().optional(),
});
export const MetadataVar = loose({ Name: z.string().optional(), Value: z.string().optional() });

export const TOOL_TYPES = [
  "browser",
  "code-interpreter",
  "mobile",
  "osworld",
  "custom",
  "swebench",
  "aio",
  "android-world",
  "waa",
] as const;

export const LogConfiguration = loose({
  CLSConfig: loose({ TopicId: z.string().optional() }).optional(),
  LogSources: loose({
    Files: z
      .array(z.string().refine(isLogFilePath, "must be a file directly under /logs/"))
      .max(MAX_LOG_FILES)
      .nullable()
      .optional(),
  }).optional(),
});

export const CreateSandboxToolRequest = z.strictObject({
  ToolName: z.string(),
  ToolType: z.string(),
  NetworkConfiguration,
  Description: z.string().optional(),
  DefaultTimeout: z.string().optional(),
  Tags: z.array(Tag).optional(),
  ClientToken: z.string().max(64).optional(),
  RoleArn: z.string().optional(),
  StorageMounts: z.array(StorageMount).optional(),
  CustomConfiguration: CustomConfiguration.optional(),
  ComputerConfiguration: z.record(z.string(), z.unknown()).optional(),
  LogConfiguration: LogConfiguration.optional(),
  Persistent: z.boolean().optional(),
});
export const UpdateSandboxToolRequest = z.strictObject({
  ToolId: z.string(),
  Description: z.string().optional(),
  NetworkConfiguration: NetworkConfiguration.optional(),
  Tags: z.array(Tag).optional(),
  CustomConfiguration: CustomConfiguration.optional(),
  ComputerConfiguration: z.record(z.string(), z.unknown()).optional(),
});
export const DeleteSandboxToolRequest = z.strictObject({ ToolId: z.string() });
export const DescribeSandboxToolListRequest = z.strictObject({
  ToolIds: z.array(z.string()).optional(),
  Offset: z.number().int().nonnegative().optional(),
  Limit: z.number().int().nonnegative().optional(),
  Filters: z.array(Filter).optional(),
});
export const StartSandboxInstanceRequest = z.strictObject({
  ToolId: z.string().optional(),
  ToolName: z.string().optional(),
  Timeout: z.string().optional(),
  ClientToken: z.string().max(64).optional(),
  MountOptions: z.array(MountOption).optional(),
  CustomConfiguration: CustomConfiguration.optional(),
  AuthMode: z.string().optional(),
  Metadata: z.array(MetadataVar).optional(),
});
export const InstanceIdRequest = z.strictObject({ InstanceId: z.string() });
export const PauseSandboxInstanceRequest = z.strictObject({
  InstanceId: z.string(),
  Memory: z.boolean().optional(),
});
export const ResumeSandboxInstanceRequest = z.strictObject({
  InstanceId: z.string(),
  Timeout: z.string().optional(),
});
export const UpdateSandboxInstanceRequest = z.strictObject({
  InstanceId: z.string(),
  Timeout: z.string().optional(),
  Metadata: z.array(MetadataVar).optional(),
});
export const DescribeSandboxInstanceListRequest = z.strictObject({
  InstanceIds: z.array(z.string()).optional(),
  ToolId: z.string().optional(),
  Offset: z.number().int().nonnegative().optional(),
  Limit: z.number().int().nonnegative().optional(),
  Filters: z.array(Filter).optional(),
  MaxResults: z.number().int().nonnegative().optional(),
  NextToken: z.string().optional(),
  NeedTotalCount: z.boolean().optional(),
});

function fieldPath(path: PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
    .join(".")
    .replace(/\.\[/g, "[");
}

/** Validates a request body, mapping zod issues to the API's MissingParameter / UnknownParameter / InvalidParameter. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw new AgsApiError("InvalidParameter", "The request is invalid.");
  const field = fieldPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    throw new AgsApiError(
      "UnknownParameter",
      `The parameter \`${field ? `${field}.` : ""}${key}\` is not recognized.`,
    );
  }
  if (issue.code !== "custom" && issue.input === undefined) {
    throw new AgsApiError("MissingParameter", `The request is missing a required parameter \`${field}\`.`);
  }
  if (issue.code === "custom" || issue.code === "too_big" || issue.code === "invalid_format") {
    // A value of the right type that the service refuses (a format, a range, an enum of strings).
    throw new AgsApiError("InvalidParameterValue", `The value of \`${field}\` is invalid: ${issue.message}.`);
  }
  throw new AgsApiError("InvalidParameter", `The parameter \`${field}\` is invalid: ${issue.message}.`);
}

export const PRECACHE_REGISTRY_TYPES = ["enterprise", "personal", "custom"] as const;
export const CreatePreCacheImageTaskRequest = z.strictObject({
  Image: z.string().min(1),
  ImageRegistryType: z.string(),
});
export const DescribePreCacheImageTaskRequest = z.strictObject({
  Image: z.string().min(1),
  ImageDigest: z.string(),
  ImageRegistryType: z.string(),
});
