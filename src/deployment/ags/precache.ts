/**
 * Image pre-caching (CreatePreCacheImageTask, then DescribePreCacheImageTask until it settles): a dataset's
 * images are pulled onto AGS nodes before its sandboxes start, so a start does not wait for a pull. Tasks
 * run concurrently; each reports every change of status or message.
 */
import { sleep } from "../../runtime/index.js";
import type { AgsClient } from "./client.js";

export interface PrecacheProgress {
  image: string;
  status: string;
  message: string;
}

export interface PrecacheResult extends PrecacheProgress {
  digest: string;
  ok: boolean;
}

export interface PrecacheOptions {
  registryType: string;
  signal?: AbortSignal;
  pollIntervalMs?: number;
  onProgress?: (p: PrecacheProgress) => void;
}

/** `Success` is the one settled state the API documents; anything that says failed/error ends the wait too. */
const SUCCESS = /^success/i;
const FAILURE = /fail|error/i;
const DEFAULT_POLL_MS = 2_000;

async function precacheOne(client: AgsClient, image: string, opts: PrecacheOptions): Promise<PrecacheResult> {
  const { signal } = opts;
  const created = await client.call(
    "CreatePreCacheImageTask",
    { Image: image, ImageRegistryType: opts.registryType },
    { signal },
  );
  const digest = created.ImageDigest ?? "";
  let last = "";
  for (;;) {
    const res = await client.call(
      "DescribePreCacheImageTask",
      { Image: image, ImageDigest: digest, ImageRegistryType: opts.registryType },
      { signal },
    );
    const status = res.Status ?? "";
    const message = res.Message ?? "";
    if (`${status}\n${message}` !== last) {
      last = `${status}\n${message}`;
      opts.onProgress?.({ image, status, message });
    }
    if (SUCCESS.test(status)) return { image, digest, status, message, ok: true };
    if (FAILURE.test(status)) return { image, digest, status, message, ok: false };
    await sleep(opts.pollIntervalMs ?? DEFAULT_POLL_MS, signal);
  }
}

/** Pre-caches every image; resolves with one result per image, in the order given. */
export function precacheImages(
  client: AgsClient,
  images: readonly string[],
  opts: PrecacheOptions,
): Promise<PrecacheResult[]> {
  return Promise.all(images.map((image) => precacheOne(client, image, opts)));
}
