/**
 * Request and response shapes of the AGS actions swerex-ts calls (API version 2025-09-20). Field names are
 * exactly those of `ags_models.d.ts` in tencentcloud-sdk-nodejs 4.1.313 (spec/ags.md 1.2), and of the newer
 * `src/services/ags/v20250920/ags_models.ts` for the pre-cache actions; `?` marks what the SDK marks
 * optional. Every response also carries `RequestId`.
 */

export interface Tag {
  Key?: string;
  Value?: string;
}

export interface Filter {
  Name?: string;
  Values?: string[];
}

export interface NetworkConfiguration {
  NetworkMode: "PUBLIC" | "VPC" | "SANDBOX" | (string & {});
  VpcConfig?: { SubnetIds?: string[]; SecurityGroupIds?: string[] };
}

export interface ResourceConfiguration {
  CPU?: string;
  Memory?: string;
  Storage?: string;
}

export interface ProbeConfiguration {
  HttpGet?: { Path?: string; Port?: number; Scheme?: "HTTP" | (string & {}) };
  ReadyTimeoutMs?: number;
  ProbeTimeoutMs?: number;
  ProbePeriodMs?: number;
  SuccessThreshold?: number;
  FailureThreshold?: number;
}

export interface PortConfiguration {
  Name?: string;
  Port?: number;
  Protocol?: "TCP" | (string & {});
}

export interface EnvVar {
  Name?: string;
  Value?: string;
}

export interface CustomConfiguration {
  Image?: string;
  ImageRegistryType?: string;
  Command?: string[];
  Args?: string[];
  Env?: EnvVar[];
  Ports?: PortConfiguration[];
  Resources?: ResourceConfiguration;
  Probe?: ProbeConfiguration;
  DNSConfig?: { Servers: string[]; Searches?: string[]; Options?: { Name?: string; Value?: string }[] };
}

export interface CustomConfigurationDetail extends CustomConfiguration {
  ImageDigest?: string;
}

export interface ImageStorageSource {
  Reference?: string;
  ImageRegistryType?: string;
  SubPath?: string;
  Digest?: string;
}

export interface StorageSource {
  Cos?: { Endpoint?: string; BucketName?: string; BucketPath?: string };
  Image?: ImageStorageSource;
  Cfs?: { FileSystemId?: string; Path?: string };
  AgentBucket?: { LibraryId?: string; SpaceId?: string; AccessDomain?: string };
}

export interface StorageMount {
  Name?: string;
  StorageSource?: StorageSource;
  MountPath?: string;
  ReadOnly?: boolean;
}

export interface MountOption {
  Name?: string;
  MountPath?: string;
  SubPath?: string;
  ReadOnly?: boolean;
}

export interface MetadataVar {
  Name?: string;
  Value?: string;
}

export type ToolStatus = "CREATING" | "ACTIVE" | "DELETING" | "FAILED" | "ISOLATED";

export interface SandboxTool {
  ToolId: string;
  ToolName?: string;
  ToolType?: string;
  Status?: ToolStatus | (string & {});
  Description?: string;
  Persistent?: boolean;
  DefaultTimeoutSeconds?: number;
  NetworkConfiguration?: NetworkConfiguration;
  Tags?: Tag[];
  CreateTime?: string;
  UpdateTime?: string;
  RoleArn?: string;
  StorageMounts?: StorageMount[];
  CustomConfiguration?: CustomConfigurationDetail;
  StatusReason?: string;
}

export type InstanceStatus =
  | "STARTING"
  | "RUNNING"
  | "PAUSING"
  | "PAUSED"
  | "RESUMING"
  | "RESUME_FAILED"
  | "STOPPING"
  | "STOPPED"
  | "FAILED"
  | "STARTING_FAILED"
  | "STOPPING_FAILED"
  | "STOP_FAILED"
  | "PAUSE_FAILED"
  | "FORK_FAILED";

export interface SandboxInstance {
  InstanceId: string;
  ToolId: string;
  ToolName: string;
  Status: InstanceStatus | (string & {});
  Persistent?: boolean;
  TimeoutSeconds?: number;
  ExpiresAt?: string;
  StopReason?: string;
  CreateTime?: string;
  UpdateTime?: string;
  MountOptions?: MountOption[];
  CustomConfiguration?: CustomConfigurationDetail;
  NetworkMode?: string;
  Metadata?: MetadataVar[];
  AuthMode?: string;
}

export interface WithRequestId {
  RequestId?: string;
}

export interface CreateSandboxToolRequest {
  ToolName: string;
  ToolType: string;
  NetworkConfiguration: NetworkConfiguration;
  Description?: string;
  DefaultTimeout?: string;
  Tags?: Tag[];
  ClientToken?: string;
  RoleArn?: string;
  StorageMounts?: StorageMount[];
  CustomConfiguration?: CustomConfiguration;
  Persistent?: boolean;
}
export interface CreateSandboxToolResponse extends WithRequestId {
  ToolId?: string;
}

export interface DeleteSandboxToolRequest {
  ToolId: string;
}

export interface DescribeSandboxToolListRequest {
  ToolIds?: string[];
  Offset?: number;
  Limit?: number;
  Filters?: Filter[];
}
export interface DescribeSandboxToolListResponse extends WithRequestId {
  SandboxToolSet?: SandboxTool[];
  TotalCount?: number;
}

export interface StartSandboxInstanceRequest {
  ToolId?: string;
  ToolName?: string;
  Timeout?: string;
  ClientToken?: string;
  MountOptions?: MountOption[];
  CustomConfiguration?: CustomConfiguration;
  AuthMode?: "DEFAULT" | "TOKEN" | "NONE" | "PUBLIC";
  Metadata?: MetadataVar[];
}
export interface StartSandboxInstanceResponse extends WithRequestId {
  Instance?: SandboxInstance;
}

export interface StopSandboxInstanceRequest {
  InstanceId: string;
}

export interface PauseSandboxInstanceRequest {
  InstanceId: string;
  Memory?: boolean;
}
export interface PauseSandboxInstanceResponse extends WithRequestId {
  InstanceStatus?: "PAUSING" | "PAUSED" | "PAUSE_FAILED" | (string & {});
}

export interface ResumeSandboxInstanceRequest {
  InstanceId: string;
  Timeout?: string;
}

export interface UpdateSandboxInstanceRequest {
  InstanceId: string;
  Timeout?: string;
  Metadata?: MetadataVar[];
}

export interface DescribeSandboxInstanceListRequest {
  InstanceIds?: string[];
  ToolId?: string;
  Offset?: number;
  Limit?: number;
  Filters?: Filter[];
  MaxResults?: number;
  NextToken?: string;
  NeedTotalCount?: boolean;
}
export interface DescribeSandboxInstanceListResponse extends WithRequestId {
  InstanceSet?: SandboxInstance[];
  TotalCount?: number;
  NextToken?: string;
}

export interface AcquireSandboxInstanceTokenRequest {
  InstanceId: string;
}
export interface AcquireSandboxInstanceTokenResponse extends WithRequestId {
  Token?: string;
  ExpiresAt?: string;
  TrafficToken?: string;
}

export interface CreatePreCacheImageTaskRequest {
  Image: string;
  ImageRegistryType: string;
}
export interface CreatePreCacheImageTaskResponse extends WithRequestId {
  Image?: string;
  ImageDigest?: string;
  ImageRegistryType?: string;
}

export interface DescribePreCacheImageTaskRequest {
  Image: string;
  ImageDigest: string;
  ImageRegistryType: string;
}
export interface DescribePreCacheImageTaskResponse extends WithRequestId {
  Image?: string;
  ImageDigest?: string;
  ImageRegistryType?: string;
  /** e.g. `Success`; the SDK documents no other values, the emulator uses `Pending`, `Running`, `Failed`. */
  Status?: string;
  Message?: string;
}

/** Every action the client sends, with its request and response types. */
export interface AgsActions {
  CreateSandboxTool: { req: CreateSandboxToolRequest; res: CreateSandboxToolResponse };
  DeleteSandboxTool: { req: DeleteSandboxToolRequest; res: WithRequestId };
  DescribeSandboxToolList: { req: DescribeSandboxToolListRequest; res: DescribeSandboxToolListResponse };
  StartSandboxInstance: { req: StartSandboxInstanceRequest; res: StartSandboxInstanceResponse };
  StopSandboxInstance: { req: StopSandboxInstanceRequest; res: WithRequestId };
  PauseSandboxInstance: { req: PauseSandboxInstanceRequest; res: PauseSandboxInstanceResponse };
  ResumeSandboxInstance: { req: ResumeSandboxInstanceRequest; res: WithRequestId };
  UpdateSandboxInstance: { req: UpdateSandboxInstanceRequest; res: WithRequestId };
  DescribeSandboxInstanceList: {
    req: DescribeSandboxInstanceListRequest;
    res: DescribeSandboxInstanceListResponse;
  };
  AcquireSandboxInstanceToken: {
    req: AcquireSandboxInstanceTokenRequest;
    res: AcquireSandboxInstanceTokenResponse;
  };
  CreatePreCacheImageTask: { req: CreatePreCacheImageTaskRequest; res: CreatePreCacheImageTaskResponse };
  DescribePreCacheImageTask: {
    req: DescribePreCacheImageTaskRequest;
    res: DescribePreCacheImageTaskResponse;
  };
}

export type AgsAction = keyof AgsActions;
export const AGS_API_VERSION = "2025-09-20";
