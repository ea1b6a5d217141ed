/**
 * Appends ModelCallRecords to a JSONL file without blocking the event loop: writes go to an fs WriteStream,
 * which batches whatever queues up while a write is in flight into one writev. A crashed agent still leaves
 * every finished call on disk.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import type { ModelCallRecord } from "../types.js";
import type { ProxyLogger } from "./logger.js";

export class JsonlRecorder {
  readonly path: string;
  private readonly stream: WriteStream;
  private failed = false;

  constructor(path: string, logger?: ProxyLogger) {
    this.path = path;
    this.stream = createWriteStream(path, { flags: "a" });
    this.stream.on("error", (err) => {
      // Recording must never take the proxy down; say so once and stop writing.
      if (!this.failed)
        logger?.error({ err, path }, "recording to JSONL failed; further records are not written");
      this.failed = true;
    });
  }

  write(record: ModelCallRecord): void {
    if (this.failed) return;
    this.stream.write(`${JSON.stringify(record)}\n`);
  }

  /** Flushes what is queued and closes the file. */
  async close(): Promise<void> {
    if (this.stream.closed) return;
    this.stream.end();
    await finished(this.stream).catch(() => undefined);
  }
}
