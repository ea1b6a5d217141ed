/**
 * `swerex run-batch` configuration: the `instances.*`, `policy.*`, `agent.*`, `reward.*` trees plus the run's
 * own keys, with SWE-agent's names where SWE-agent has one (`num_workers`, `redo_existing`, `output_dir`).
 */
import { z } from "zod";

export const BatchOptionsSchema = z.strictObject({
  /** Rollouts at the same time. */
  num_workers: z.number().int().positive().default(1),
  /** Where results.jsonl, model_calls.jsonl and summary.json go. */
  output_dir: z.string().min(1).default("swerex-batch"),
  /** Run instances again even if results.jsonl already has them (default: resume, skipping them). */
  redo_existing: z.boolean().default(false),
  /** `auto`: a bar on a TTY, one line per finished instance otherwise. */
  progress: z.enum(["auto", "bar", "lines", "off"]).default("auto"),
  /** Seconds per model call at the proxy. */
  model_timeout: z.number().positive().default(600),
  /** Seconds `deployment.start()` may take. */
  provision_timeout: z.number().positive().default(1200),
  /** Exit 1 when any instance failed (provisioning, setup, agent, ...), for pipelines; default exit 0 once the run ends. */
  fail_on_error: z.boolean().default(false),
});
export type BatchOptions = z.output<typeof BatchOptionsSchema>;

export const InstancesSchema = z.strictObject({
  /** SWE-bench JSONL (or JSON array), or the seed's training rows. */
  path: z.string().min(1),
  /** Regular expression over `instance_id`. */
  filter: z.string().optional(),
  /** `start:stop` over the filtered list. */
  slice: z.string().optional(),
  /** Any `DeploymentConfig` (`type=local|docker|remote|tencentags|...`); default `local`. */
  deployment: z.record(z.string(), z.unknown()).default({ type: "local" }),
});
export type InstancesConfig = z.output<typeof InstancesSchema>;
