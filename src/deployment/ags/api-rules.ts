/**
 * The value rules of the AGS API (2025-09-20) in one place: what the service accepts for durations, CPU,
 * memory, disk, registry types, network modes, ports, mount paths and log files. The deployment's config
 * checks them before any call (so a typo fails in milliseconds with the key's name, not after a round
 * trip); the emulator refuses the same values as the service does.
 *
 * Sources: tencentcloud-sdk-nodejs `src/services/ags/v20250920/ags_models.ts` (the version with
 * `DescribeQuotaOverview`; spec/ags.md pins 4.1.313): `ResourceConfiguration.Storage` enum, `Timeout`
 * "最小 30s，最大 24h", `CustomConfiguration.ImageRegistryType`, `NetworkConfiguration.NetworkMode`
 * "PUBLIC, VPC, SANDBOX", `LogSources.Files` "/logs/ 目录下的文件，不支持子目录，最大支持 10 个";
 * ags-go-sdk's MountOption comment for the mount roots.
 */

export const MIN_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 24 * 3600;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** `"300s"`, `"5m"`, `"1h"` → seconds; undefined when the format is not the API's. */
export function durationSeconds(value: string): number | undefined {
  const m = /^(\d+)(s|m|h)$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

/** Kubernetes-style CPU quantities as the API's examples use them: `"1"`, `"2"`, `"0.5"`, `"500m"`. */
export const CPU_PATTERN = /^(\d+(\.\d{1,3})?|\d+m)$/;
/** Memory quantities in binary units, as the API's examples: `"1Gi"`, `"4Gi"`, `"1000Mi"`. */
export const MEMORY_PATTERN = /^\d+(Mi|Gi)$/;
/** `ResourceConfiguration.Storage`; empty means the default disk. */
export const STORAGE_SIZES = ["1Gi", "5Gi", "10Gi", "20Gi"] as const;
/** `CustomConfiguration.ImageRegistryType`; `system` is what SWE-bench tools use for built-in images. */
export const IMAGE_REGISTRY_TYPES = ["enterprise", "personal", "custom", "system"] as const;
/** `ImageStorageSource.ImageRegistryType` (mount images come from TCR or CCR). */
export const MOUNT_IMAGE_REGISTRY_TYPES = ["enterprise", "personal"] as const;
export const NETWORK_MODES = ["PUBLIC", "VPC", "SANDBOX"] as const;
export const MIN_PORT = 1;
export const MAX_PORT = 65535;
/** Where a per-instance `MountOption.MountPath` may point. */
export const MOUNT_OPTION_ROOTS = ["/home", "/workspace", "/data", "/mnt"] as const;
export const LOG_DIR = "/logs/";
export const MAX_LOG_FILES = 10;
export const SUBNET_ID_PATTERN = /^subnet-[a-z0-9]+$/;
export const SECURITY_GROUP_ID_PATTERN = /^sg-[a-z0-9]+$/;
/** Tencent Cloud region names: `ap-guangzhou`, `na-siliconvalley`, `eu-frankfurt`. */
export const REGION_PATTERN = /^[a-z]{2,}-[a-z]+(-\d+)?$/;

export function isMountOptionPath(path: string): boolean {
  return MOUNT_OPTION_ROOTS.some((root) => path === root || path.startsWith(`${root}/`));
}

/** A log file AGS collects: directly under /logs/, no subdirectory. */
export function isLogFilePath(path: string): boolean {
  return (
    path.startsWith(LOG_DIR) && path.length > LOG_DIR.length && !path.slice(LOG_DIR.length).includes("/")
  );
}

/** The region a standard data-plane domain names (`ap-guangzhou.tencentags.com`, `….internal.tencentags.com`). */
export function regionOfDomain(domain: string): string | undefined {
  return /^([a-z0-9-]+)\.(internal\.)?tencentags\.com$/.exec(domain.toLowerCase())?.[1];
}
