/**
 * Scale-out routes: `GET /v1/pools` (each warm pool's size, ready, starting and handed-out counts) and
 * `POST /v1/sandboxes/batch` (a group of sandboxes, all running or none, within a deadline). Creating
 * from a pool is `POST /v1/sandboxes {"pool": NAME}` (routes.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import { Gauge } from "prom-client";
import { zodIssues } from "../../config/index.js";
import type { SandboxService } from "../../controlplane/index.js";
import { ServiceError } from "../../controlplane/index.js";
import type { PoolManager } from "../../controlplane/pool-manager.js";
import type { SandboxRecord } from "../../store/types.js";
import { sendServiceError } from "./errors.js";
import { CreateBatchBody } from "./schemas.js";

export interface ScaleRoutesOptions {
  service: SandboxService;
  pools: () => PoolManager | undefined;
  publicUrl?: string;
  wire: (rec: SandboxRecord, base: string) => unknown;
}

export function scaleRoutes(app: FastifyInstance, opts: ScaleRoutesOptions): void {
  const base = (req: FastifyRequest) => opts.publicUrl ?? `${req.protocol}://${req.host}`;
  const fail = (reply: FastifyReply, req: FastifyRequest, err: unknown) => {
    const sent = sendServiceError(reply, err, base(req));
    if (sent) return sent;
    throw err;
  };

  app.get("/v1/pools", async (req, reply) => {
    try {
      return { items: (await opts.pools()?.status()) ?? [] };
    } catch (err) {
      return fail(reply, req, err);
    }
  });

  app.post("/v1/sandboxes/batch", async (req, reply) => {
    try {
      const parsed = CreateBatchBody.safeParse(req.body ?? {});
      if (!parsed.success) {
        const issues = zodIssues(parsed.error, { input: req.body, where: (p) => p.join(".") || "body" });
        throw new ServiceError("invalid_request", issues.map((i) => `${i.where}: ${i.message}`).join("\n"), {
          issues,
        });
      }
      const b = parsed.data;
      const records = await opts.service.createGroup(
        req.owner,
        {
          ...(b.deployment ? { deployment: b.deployment } : {}),
          ...(b.ttl !== undefined ? { ttl: b.ttl } : {}),
          ...(b.metadata ? { metadata: b.metadata } : {}),
        },
        b.count,
        b.timeout,
      );
      return reply.code(201).send({ items: records.map((r) => opts.wire(r, base(req))) });
    } catch (err) {
      return fail(reply, req, err);
    }
  });
}

/** `swerex_pool_sandboxes{pool, state=ready|starting|handed_out}` and `swerex_pool_size{pool}`, read at scrape. */
export function registerPoolMetrics(registry: Registry, pools: () => PoolManager | undefined): void {
  let last: Awaited<ReturnType<PoolManager["status"]>> = [];
  const refresh = async () => {
    last = (await pools()?.status()) ?? [];
  };
  new Gauge({
    name: "swerex_pool_sandboxes",
    help: "Sandboxes of each warm pool by state (ready, starting, handed_out)",
    labelNames: ["pool", "state"],
    registers: [registry],
    async collect() {
      await refresh();
      for (const p of last) {
        this.set({ pool: p.name, state: "ready" }, p.ready);
        this.set({ pool: p.name, state: "starting" }, p.starting);
        this.set({ pool: p.name, state: "handed_out" }, p.handed_out);
      }
    },
  });
  new Gauge({
    name: "swerex_pool_size",
    help: "Ready sandboxes each warm pool keeps (its size)",
    labelNames: ["pool"],
    registers: [registry],
    collect() {
      for (const p of last) this.set({ pool: p.name }, p.size);
    },
  });
}
