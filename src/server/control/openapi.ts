/** The OpenAPI 3 document, generated from the zod schemas in schemas.ts (zod 4's JSON Schema output). */
import { z } from "zod";
import {
  CreateBatchBody,
  CreateSandboxBody,
  ErrorBody,
  LeaseBody,
  PoolStatus,
  Sandbox,
  SandboxList,
} from "./schemas.js";

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ content: { "application/json": { schema: ref(id) } } });
const error = (description: string) => ({ description, ...json("Error") });
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
const common = { "401": error("Missing or unknown API key"), "404": error("No such sandbox (or not yours)") };

export function openApiDocument(version: string): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const s of [
    Sandbox,
    CreateSandboxBody,
    LeaseBody,
    SandboxList,
    ErrorBody,
    CreateBatchBody,
    PoolStatus,
  ]) {
    const id = (s.meta() as { id?: string } | undefined)?.id;
    if (id && !registry.has(s)) registry.add(s, { id });
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: "openapi-3.0",
    io: "input",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }
  const runtimeOp = {
    summary: "swerex-remote protocol of the sandbox (pass-through; see SWE-ReX)",
    parameters: [idParam, { name: "endpoint", in: "path", required: true, schema: { type: "string" } }],
    responses: { default: { description: "What the sandbox's swerex-remote answers" } },
  };
  return {
    openapi: "3.0.3",
    info: {
      title: "swerex serve",
      version,
      description: "SWE-ReX sandboxes as a service (docs/control-plane.md)",
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: {
      "/v1/sandboxes": {
        post: {
          summary: "Create a sandbox",
          parameters: [
            { name: "Idempotency-Key", in: "header", required: false, schema: { type: "string" } },
          ],
          requestBody: { required: false, ...json("CreateSandbox") },
          responses: {
            "201": { description: "Running (or an idempotent replay)", ...json("Sandbox") },
            "202": { description: "Starting (wait: false)", ...json("Sandbox") },
            "401": common["401"],
            "413": error("Body too large"),
            "422": error("Invalid body, deployment or ttl; or Idempotency-Key reused with another body"),
            "429": error("Over max_sandboxes (see Retry-After)"),
            "502": error("The backend failed to start it (the failed sandbox is in `sandbox`)"),
          },
        },
        get: {
          summary: "List your sandboxes",
          parameters: [
            { name: "state", in: "query", schema: { type: "string" }, description: "state[,state...]" },
            { name: "metadata.KEY", in: "query", schema: { type: "string" }, description: "exact match" },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
            { name: "cursor", in: "query", schema: { type: "string" } },
          ],
          responses: {
            "200": { description: "A page", ...json("SandboxList") },
            "401": common["401"],
            "422": error("Bad query"),
          },
        },
      },
      "/v1/sandboxes/batch": {
        post: {
          summary: "Create a group of sandboxes: all running, or none (room reserved for the whole group)",
          requestBody: { required: true, ...json("CreateBatch") },
          responses: {
            "201": { description: "Every member running: {items: [Sandbox]}" },
            "401": common["401"],
            "422": error("Invalid body"),
            "429": error("The admission queue is full (see Retry-After)"),
            "502": error("A member failed to start; every member was stopped"),
            "503": error("No room for the whole group before the deadline"),
          },
        },
      },
      "/v1/pools": {
        get: {
          summary: "Warm pools: size, ready, starting and handed_out of each ({items: [PoolStatus]})",
          responses: { "200": { description: "The pools" }, "401": common["401"] },
        },
      },
      "/v1/sandboxes/{id}": {
        get: {
          summary: "Get a sandbox",
          parameters: [idParam],
          responses: { "200": json("Sandbox"), ...common },
        },
        delete: {
          summary: "Stop a sandbox; returns the stopped record (again on a second DELETE)",
          parameters: [idParam],
          responses: { "200": { description: "Stopped", ...json("Sandbox") }, ...common },
        },
      },
      "/v1/sandboxes/{id}/lease": {
        post: {
          summary: "Extend the lease to ttl seconds from now",
          parameters: [idParam],
          requestBody: { required: true, ...json("Lease") },
          responses: { "200": json("Sandbox"), ...common, "409": error("Not live"), "422": error("Bad ttl") },
        },
      },
      "/v1/sandboxes/{id}/pause": {
        post: {
          summary: "Pause (tencentags only)",
          parameters: [idParam],
          responses: {
            "200": json("Sandbox"),
            ...common,
            "409": error("Backend cannot pause, or wrong state"),
          },
        },
      },
      "/v1/sandboxes/{id}/resume": {
        post: {
          summary: "Resume (tencentags only)",
          parameters: [idParam],
          responses: {
            "200": json("Sandbox"),
            ...common,
            "409": error("Backend cannot resume, or wrong state"),
          },
        },
      },
      "/v1/sandboxes/{id}/runtime/{endpoint}": { get: runtimeOp, post: runtimeOp },
      "/healthz": { get: { summary: "Up", security: [], responses: { "200": { description: "ok" } } } },
      "/readyz": {
        get: {
          summary: "Store reachable",
          security: [],
          responses: { "200": { description: "ok" }, "503": { description: "store down" } },
        },
      },
      "/metrics": {
        get: { summary: "Prometheus metrics", security: [], responses: { "200": { description: "text" } } },
      },
    },
  };
}
