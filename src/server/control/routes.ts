/** The `/v1/sandboxes` routes: bodies and queries validated with schemas.ts, answers in wire.ts's shape. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { type ConfigIssue, zodIssues } from "../../config/index.js";
import { type SandboxService, ServiceError } from "../../controlplane/index.js";
import { SANDBOX_STATES, type SandboxRecord, type SandboxState } from "../../store/types.js";
import { sendServiceError } from "./errors.js";
import { CreateSandboxBody, LeaseBody, ListQuery } from "./schemas.js";
import { sandboxWire } from "./wire.js";

/** Longest `Idempotency-Key` accepted (Stripe's limit). */
const MAX_IDEMPOTENCY_KEY = 255;

export interface SandboxRoutesOptions {
  service: SandboxService;
  /** The service's public base URL for `runtime_url`; undefined: from the request's Host header. */
  publicUrl?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The API key's owner fingerprint, set by the auth hook. */
    owner: string;
  }
}

function invalid(issues: ConfigIssue[]): ServiceError {
  return new ServiceError("invalid_request", issues.map((i) => `${i.where}: ${i.message}`).join("\n"), {
    issues,
  });
}

function parse<S extends z.ZodType>(schema: S, value: unknown, prefix: string[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(
    zodIssues(result.error, {
      input: value,
      where: (p) => [...prefix, ...p].join(".") || "body",
    }),
  );
}

export function sandboxRoutes(app: FastifyInstance, opts: SandboxRoutesOptions): void {
  const { service } = opts;
  const base = (req: FastifyRequest) => opts.publicUrl ?? `${req.protocol}://${req.host}`;
  const wire = (req: FastifyRequest, rec: SandboxRecord) =>
    sandboxWire(rec, base(req), service.queuePosition(rec.id));

  /** Runs a route body; ServiceErrors become their answers. */
  const guarded =
    <P>(fn: (req: FastifyRequest<{ Params: P }>, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest<{ Params: P }>, reply: FastifyReply) => {
      try {
        return await fn(req, reply);
      } catch (err) {
        const sent = sendServiceError(reply, err, base(req));
        if (sent) return sent;
        if ((err as Error)?.name === "InvalidCursorError") {
          return sendServiceError(
            reply,
            invalid([{ where: "cursor", message: "not a cursor this service made" }]),
            base(req),
          );
        }
        throw err;
      }
    };

  app.post(
    "/v1/sandboxes",
    guarded(async (req, reply) => {
      const body = parse(CreateSandboxBody, req.body ?? {});
      const keyHeader = req.headers["idempotency-key"];
      const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
      if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
        throw invalid([{ where: "Idempotency-Key", message: `1 to ${MAX_IDEMPOTENCY_KEY} characters` }]);
      }
      const { record } = await service.create(
        req.owner,
        {
          ...(body.deployment ? { deployment: body.deployment } : {}),
          ...(body.ttl !== undefined ? { ttl: body.ttl } : {}),
          ...(body.metadata ? { metadata: body.metadata } : {}),
          ...(body.pool !== undefined ? { pool: body.pool } : {}),
          wait: body.wait,
        },
        key,
      );
      if (record.state === "failed") {
        throw new ServiceError(
          "start_failed",
          `sandbox ${record.id} failed to start: ${record.error?.message ?? ""}`,
          {
            sandbox: record,
          },
        );
      }
      const status =
        record.state === "starting" || record.state === "queued"
          ? 202
          : record.state === "running" || record.state === "paused"
            ? 201
            : 200;
      return reply.code(status).send(wire(req, record));
    }),
  );

  app.get(
    "/v1/sandboxes",
    guarded(async (req) => {
      const raw = req.query as Record<string, string | string[]>;
      const metadata: Record<string, string> = {};
      const rest: Record<string, unknown> = {};
      const issues: ConfigIssue[] = [];
      for (const [k, v] of Object.entries(raw)) {
        if (k.startsWith("metadata.") && k.length > "metadata.".length) {
          if (Array.isArray(v)) issues.push({ where: k, message: "given more than once" });
          else metadata[k.slice("metadata.".length)] = v;
        } else if (k === "state") rest.state = Array.isArray(v) ? v.join(",") : v;
        else if (k === "limit" || k === "cursor") {
          if (Array.isArray(v)) issues.push({ where: k, message: "given more than once" });
          else rest[k] = v;
        } else
          issues.push({
            where: k,
            message: "unknown query parameter; accepted: state, metadata.KEY, limit, cursor",
          });
      }
      if (issues.length > 0) throw invalid(issues);
      const q = parse(ListQuery, rest);
      let states: SandboxState[] | undefined;
      if (q.state !== undefined) {
        states = q.state.split(",").map((s) => s.trim()) as SandboxState[];
        const bad = states.filter((s) => !SANDBOX_STATES.includes(s));
        if (bad.length > 0 || states.length === 0) {
          throw invalid([
            {
              where: "state",
              message: `expected one of ${SANDBOX_STATES.join("|")}, got ${JSON.stringify(q.state)}`,
            },
          ]);
        }
      }
      const page = await service.list(req.owner, {
        ...(states ? { state: states } : {}),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return { items: page.items.map((r) => wire(req, r)), next_cursor: page.nextCursor };
    }),
  );

  type IdParams = { id: string };
  app.get(
    "/v1/sandboxes/:id",
    guarded<IdParams>(async (req) => wire(req, await service.get(req.owner, req.params.id))),
  );
  app.delete(
    "/v1/sandboxes/:id",
    guarded<IdParams>(async (req) => wire(req, await service.remove(req.owner, req.params.id))),
  );
  app.post(
    "/v1/sandboxes/:id/lease",
    guarded<IdParams>(async (req) => {
      const { ttl } = parse(LeaseBody, req.body ?? {});
      return wire(req, await service.lease(req.owner, req.params.id, ttl));
    }),
  );
  app.post(
    "/v1/sandboxes/:id/pause",
    guarded<IdParams>(async (req) => wire(req, await service.pause(req.owner, req.params.id))),
  );
  app.post(
    "/v1/sandboxes/:id/resume",
    guarded<IdParams>(async (req) => wire(req, await service.resume(req.owner, req.params.id))),
  );
}
