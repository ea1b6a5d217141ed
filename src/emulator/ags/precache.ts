import { createHash } from "node:crypto";
import { AgsApiError } from "./api-error.js";
import type { EmulatorContext } from "./context.js";
import {
  CreatePreCacheImageTaskRequest,
  DescribePreCacheImageTaskRequest,
  PRECACHE_REGISTRY_TYPES,
  parseRequest,
} from "./schemas.js";

interface PrecacheTask {
  image: string;
  registryType: string;
  digest: string;
  createdMs: number;
  failure?: string;
}

/**
 * Image pre-warm (CreatePreCacheImageTask / DescribePreCacheImageTask). A task runs `Pending` → `Running`
 * (with a progress message) → `Success` over `precacheMs`; the same image asked again reuses its task, as
 * a cache does. The digest is derived from the reference (nothing is pulled).
 */
export class PrecacheStore {
  private readonly tasks = new Map<string, PrecacheTask>();
  private pendingFailures: string[] = [];

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly precacheMs: number,
  ) {}

  failNext(message: string): void {
    this.pendingFailures.push(message);
  }

  private static key(image: string, registryType: string): string {
    return `${registryType}\n${image}`;
  }

  create(body: unknown): Record<string, unknown> {
    const req = parseRequest(CreatePreCacheImageTaskRequest, body);
    checkRegistryType(req.ImageRegistryType);
    const key = PrecacheStore.key(req.Image, req.ImageRegistryType);
    let task = this.tasks.get(key);
    if (!task || task.failure !== undefined) {
      task = {
        image: req.Image,
        registryType: req.ImageRegistryType,
        digest: `sha256:${createHash("sha256").update(req.Image).digest("hex")}`,
        createdMs: this.ctx.now(),
        failure: this.pendingFailures.shift(),
      };
      this.tasks.set(key, task);
    }
    return { Image: task.image, ImageDigest: task.digest, ImageRegistryType: task.registryType };
  }

  describe(body: unknown): Record<string, unknown> {
    const req = parseRequest(DescribePreCacheImageTaskRequest, body);
    checkRegistryType(req.ImageRegistryType);
    const task = this.tasks.get(PrecacheStore.key(req.Image, req.ImageRegistryType));
    if (!task || task.digest !== req.ImageDigest) {
      throw new AgsApiError("ResourceNotFound", `No pre-cache task for image ${req.Image} with that digest.`);
    }
    const base = { Image: task.image, ImageDigest: task.digest, ImageRegistryType: task.registryType };
    const elapsed = this.ctx.now() - task.createdMs;
    const done = this.precacheMs <= 0 ? 1 : Math.min(1, elapsed / this.precacheMs);
    if (done >= 1) {
      return task.failure === undefined
        ? { ...base, Status: "Success", Message: "image cached" }
        : { ...base, Status: "Failed", Message: task.failure };
    }
    if (done < 0.1) return { ...base, Status: "Pending", Message: "waiting for a node" };
    return { ...base, Status: "Running", Message: `pulling image: ${Math.floor(done * 100)}%` };
  }
}

function checkRegistryType(value: string): void {
  if (!(PRECACHE_REGISTRY_TYPES as readonly string[]).includes(value)) {
    throw new AgsApiError(
      "InvalidParameterValue",
      `ImageRegistryType "${value}" is invalid; valid: ${PRECACHE_REGISTRY_TYPES.join(", ")}.`,
    );
  }
}
