/**
 * The API's wire shapes, once, as zod schemas: request bodies are validated with them and the OpenAPI
 * document (`/openapi.json`, openapi.ts) is generated from them. snake_case fields; timestamps are ISO 8601
 * strings in UTC (`2026-11-30T07:20:21.123Z`), null where not reached yet.
 */
import { z } from "zod";
import { SANDBOX_STATES } from "../../store/types.js";

/** Metadata keys and values: short strings, so they fit labels and query strings. */
const MAX_METADATA_ENTRIES = 64;
const metadataKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.\-/]+$/, "letters, digits and _ . - / only");
const metadataValue = z.string().max(1024);

export const Metadata = z
  .record(metadataKey, metadataValue)
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, `at most ${MAX_METADATA_ENTRIES} entries`)
  .meta({ id: "Metadata", description: "String labels of a sandbox; list filters match them exactly." });

export const SandboxState = z.enum(SANDBOX_STATES).meta({ id: "SandboxState" });

export const SandboxErrorInfo = z
  .object({ class: z.string(), message: z.string() })
  .meta({ id: "SandboxError", description: "Why a sandbox failed or was lost." });

const timestamp = z.iso.datetime().nullable();

export const Sandbox = z
  .object({
    id: z.string().meta({ description: "`sbx-` and 20 base32 characters" }),
    state: SandboxState,
    deployment: z
      .object({ type: z.string() })
      .catchall(z.unknown())
      .meta({ description: "The deployment config it runs with (defaults filled in, secrets removed)." }),
    metadata: Metadata,
    created_at: z.iso.datetime(),
    started_at: timestamp,
    stopped_at: timestamp,
    expires_at: timestamp.meta({ description: "When the lease ends; extend it with POST .../lease." }),
    error: SandboxErrorInfo.nullable(),
    runtime_url: z
      .string()
      .meta({ description: "Base URL of the swerex-remote pass-through (authenticate with your API key)." }),
    pool: z.string().nullable().meta({ description: "The warm pool it came from, if any." }),
    host: z.string().nullable().meta({ description: "The Docker host (docker_hosts) it runs on, if any." }),
    queue_position: z.number().int().optional().meta({
      description: "While queued: 1 = next to get room (shown by the replica holding the request).",
    }),
  })
  .meta({ id: "Sandbox" });
export type SandboxWire = z.infer<typeof Sandbox>;

const ttl = z
  .number()
  .positive()
  .meta({ description: "Lease in seconds from now (at most the service's max_ttl)." });

export const CreateSandboxBody = z
  .strictObject({
    deployment: z.record(z.string(), z.unknown()).optional().meta({
      description:
        "Deployment config merged over the service's default (same keys as --instances.deployment.*).",
    }),
    ttl: ttl.optional(),
    metadata: Metadata.optional(),
    wait: z
      .boolean()
      .default(true)
      .meta({ description: "true: answer 201 once running; false: answer 202 while starting." }),
    pool: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "Take a ready sandbox from this warm pool (instead of deployment)." }),
  })
  .meta({ id: "CreateSandbox" });

/** Largest group one batch may ask for. */
export const MAX_BATCH = 1000;

export const CreateBatchBody = z
  .strictObject({
    count: z.number().int().min(1).max(MAX_BATCH).meta({ description: "Sandboxes in the group." }),
    deployment: z.record(z.string(), z.unknown()).optional(),
    ttl: ttl.optional(),
    metadata: Metadata.optional(),
    timeout: z
      .number()
      .positive()
      .optional()
      .meta({ description: "Seconds to wait for room for the whole group (default: queue_timeout)." }),
  })
  .meta({ id: "CreateBatch" });

export const PoolStatus = z
  .object({
    name: z.string(),
    size: z.number().int(),
    max: z.number().int().nullable(),
    ready: z.number().int(),
    starting: z.number().int(),
    handed_out: z.number().int(),
  })
  .meta({ id: "PoolStatus" });

export const LeaseBody = z.strictObject({ ttl }).meta({ id: "Lease" });

export const SandboxList = z
  .object({
    items: z.array(Sandbox),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: "Pass as ?cursor= for the next page; null at the end." }),
  })
  .meta({ id: "SandboxList" });

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum([
        "unauthorized",
        "not_found",
        "conflict",
        "invalid_request",
        "limit_exceeded",
        "body_too_large",
        "start_failed",
        "unavailable",
        "internal",
      ]),
      message: z.string(),
      issues: z
        .array(z.object({ field: z.string(), message: z.string() }))
        .optional()
        .meta({ description: "invalid_request: one entry per bad field." }),
      class: z.string().optional().meta({ description: "start_failed: the backend error's class." }),
    }),
    sandbox: Sandbox.optional().meta({ description: "start_failed: the (failed) sandbox record." }),
  })
  .meta({ id: "Error" });
export type ErrorBodyWire = z.infer<typeof ErrorBody>;

/** Query of GET /v1/sandboxes (besides `metadata.KEY=VALUE` pairs). */
export const ListQuery = z.object({
  state: z
    .string()
    .optional()
    .meta({ description: "One state or several, comma-separated (also repeatable)." }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
});
