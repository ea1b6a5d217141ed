/** The `/v1/rollouts` routes: create (Idempotency-Key as for sandboxes), get, list, cancel. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ConfigIssue } from "../../config/index.js";
import type { RolloutService } from "../../controlplane/rollouts.js";
import { ROLLOUT_STATES, type RolloutState } from "../../store/types.js";
import { sendServiceError } from "./errors.js";
import { CreateRolloutBody } from "./rollout-schemas.js";
import { rolloutWire } from "./rollout-wire.js";
import { invalid, parse } from "./routes.js";
import { ListQuery } from "./schemas.js";

/** Longest `Idempotency-Key` accepted (as for sandboxes). */
const MAX_IDEMPOTENCY_KEY = 255;

/** Runs a route body; ServiceErrors become their answers. */
export function guardedRoute<P, Q = unknown>(
  fn: (req: FastifyRequest<{ Params: P; Querystring: Q }>, reply: FastifyReply) => Promise<unknown>,
) {
  return async (req: FastifyRequest<{ Params: P; Querystring: Q }>, reply: FastifyReply) => {
    try {
      return await fn(req, reply);
    } catch (err) {
      const base = `${req.protocol}://${req.host}`;
      if ((err as Error)?.name === "InvalidCursorError") {
        return sendServiceError(
          reply,
          invalid([{ where: "cursor", message: "not a cursor this service made" }]),
          base,
        );
      }
      const sent = sendServiceError(reply, err, base);
      if (sent) return sent;
      throw err;
    }
  };
}

export function rolloutRoutes(app: FastifyInstance, opts: { rollouts: RolloutService }): void {
  const { rollouts } = opts;

  app.post(
    "/v1/rollouts",
    guardedRoute(async (req, reply) => {
      const body = parse(CreateRolloutBody, req.body ?? {});
      const keyHeader = req.headers["idempotency-key"];
      const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
      if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
        throw invalid([{ where: "Idempotency-Key", message: `1 to ${MAX_IDEMPOTENCY_KEY} characters` }]);
      }
      const rec = await rollouts.create(req.owner, body, key);
      return reply.code(201).send({ id: rec.id, state: rec.state });
    }),
  );

  app.get(
    "/v1/rollouts",
    guardedRoute(async (req) => {
      const raw = req.query as Record<string, string | string[]>;
      const metadata: Record<string, string> = {};
      const rest: Record<string, unknown> = {};
      const issues: ConfigIssue[] = [];
      for (const [k, v] of Object.entries(raw)) {
        if (Array.isArray(v) && k !== "state") issues.push({ where: k, message: "given more than once" });
        else if (k.startsWith("metadata.") && k.length > "metadata.".length)
          metadata[k.slice("metadata.".length)] = v as string;
        else if (k === "state") rest.state = Array.isArray(v) ? v.join(",") : v;
        else if (k === "limit" || k === "cursor") rest[k] = v;
        else
          issues.push({
            where: k,
            message: "unknown query parameter; accepted: state, metadata.KEY, limit, cursor",
          });
      }
      if (issues.length > 0) throw invalid(issues);
      const q = parse(ListQuery, rest);
      let states: RolloutState[] | undefined;
      if (q.state !== undefined) {
        states = q.state.split(",").map((s) => s.trim()) as RolloutState[];
        if (states.length === 0 || states.some((s) => !ROLLOUT_STATES.includes(s))) {
          throw invalid([
            {
              where: "state",
              message: `expected one of ${ROLLOUT_STATES.join("|")}, got ${JSON.stringify(q.state)}`,
            },
          ]);
        }
      }
      const page = await rollouts.list(req.owner, {
        ...(states ? { state: states } : {}),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return { items: page.items.map((r) => rolloutWire(r, false)), next_cursor: page.nextCursor };
    }),
  );

  type IdParams = { id: string };
  app.get(
    "/v1/rollouts/:id",
    guardedRoute<IdParams>(async (req) => rolloutWire(await rollouts.get(req.owner, req.params.id), true)),
  );
  app.delete(
    "/v1/rollouts/:id",
    guardedRoute<IdParams>(async (req) => rolloutWire(await rollouts.cancel(req.owner, req.params.id), true)),
  );
}
