/**
 * The trainer side of the trainer-driven policy over HTTP, mounted on the proxy's server, so a trainer in
 * another process (or language) runs the seed's loop:
 *   GET  /trainer/requests?wait=30[&session_id=ID]  -> 200 TrainerRequest, or 204 when none came in `wait` s
 *   POST /trainer/responses/{request_id}            <- PolicyResponse            -> 200 {"ok": true}
 *   POST /trainer/errors/{request_id}               <- {message, type?, code?, status?} -> 200 {"ok": true}
 * An unknown (answered, timed-out, cancelled) request id is a 404. Waits are capped at 60 s per poll.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { PolicyError } from "../policy/errors.js";
import { describeIssues, PolicyResponseSchema } from "../policy/schema.js";
import type { TrainerPolicy } from "../policy/trainer.js";
import { errorBody, invalidRequest } from "./openai-wire.js";

export const TRAINER_POLL_MAX_S = 60;
const TRAINER_POLL_DEFAULT_S = 30;

const TrainerErrorSchema = z.object({
  message: z.string().min(1),
  type: z.string().optional(),
  code: z.string().optional(),
  status: z.number().int().min(400).max(599).optional(),
});

export interface TrainerRoutesOptions {
  trainer: TrainerPolicy;
  /** When set, trainer routes need `Authorization: Bearer <token>`. */
  token?: string;
  /** Aborted when the proxy closes, ending every long-poll at once. */
  shutdown: AbortSignal;
}

function sendError(reply: FastifyReply, err: PolicyError): FastifyReply {
  return reply.code(err.status).header("x-should-retry", "false").send(errorBody(err));
}

export function mountTrainerRoutes(app: FastifyInstance, opts: TrainerRoutesOptions): void {
  const { trainer, token, shutdown } = opts;
  const expected = token === undefined ? undefined : `Bearer ${token}`;

  const authorized = (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (expected === undefined || req.headers.authorization === expected) return true;
    sendError(
      reply,
      new PolicyError("trainer routes need the trainer token", { status: 401, type: "unauthorized" }),
    );
    return false;
  };

  app.get("/trainer/requests", async (req, reply) => {
    if (!authorized(req, reply)) return reply;
    const query = req.query as { wait?: string; session_id?: string };
    const wait = query.wait === undefined ? TRAINER_POLL_DEFAULT_S : Number(query.wait);
    if (!Number.isFinite(wait) || wait < 0 || wait > TRAINER_POLL_MAX_S) {
      return sendError(reply, invalidRequest(`wait: expected seconds between 0 and ${TRAINER_POLL_MAX_S}`));
    }
    const ac = new AbortController();
    const onShutdown = () => ac.abort();
    shutdown.addEventListener("abort", onShutdown, { once: true });
    // A poller that hangs up must not keep (or swallow) a call.
    const onGone = () => ac.abort();
    reply.raw.once("close", onGone);
    try {
      const item = await trainer.getRequest({
        signal: ac.signal,
        timeoutMs: wait * 1000,
        ...(query.session_id === undefined ? {} : { sessionId: query.session_id }),
      });
      if (item === null) return reply.code(204).send();
      if (reply.raw.destroyed || req.raw.socket.destroyed) {
        trainer.release(item.request_id);
        return reply;
      }
      let json: string;
      try {
        json = JSON.stringify(item);
      } catch (err) {
        // A call that cannot be handed out must not vanish until its timeout: its agent gets the error now.
        trainer.sendError(item.request_id, {
          message: `the request cannot be handed to a trainer: ${(err as Error).message}`,
          status: 400,
          type: "invalid_request_error",
          code: "invalid_request",
        });
        return reply.code(204).send();
      }
      return reply.type("application/json; charset=utf-8").send(json);
    } catch {
      const closing = shutdown.aborted;
      return sendError(
        reply,
        new PolicyError(closing ? "the proxy is shutting down" : "poll cancelled", {
          status: 503,
          type: "unavailable",
        }),
      );
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
      reply.raw.removeListener("close", onGone);
    }
  });

  app.post("/trainer/responses/:request_id", async (req, reply) => {
    if (!authorized(req, reply)) return reply;
    const { request_id } = req.params as { request_id: string };
    const parsed = PolicyResponseSchema.safeParse(req.body);
    if (!parsed.success)
      return sendError(reply, invalidRequest(`invalid PolicyResponse: ${describeIssues(parsed.error)}`));
    if (!trainer.sendResponse(request_id, parsed.data)) return sendError(reply, unknownRequest(request_id));
    return reply.send({ ok: true });
  });

  app.post("/trainer/errors/:request_id", async (req, reply) => {
    if (!authorized(req, reply)) return reply;
    const { request_id } = req.params as { request_id: string };
    const parsed = TrainerErrorSchema.safeParse(req.body);
    if (!parsed.success)
      return sendError(reply, invalidRequest(`invalid trainer error: ${describeIssues(parsed.error)}`));
    const e = parsed.data;
    const sent = trainer.sendError(request_id, {
      message: e.message,
      ...(e.type === undefined ? {} : { type: e.type }),
      ...(e.code === undefined ? {} : { code: e.code }),
      ...(e.status === undefined ? {} : { status: e.status }),
    });
    if (!sent) return sendError(reply, unknownRequest(request_id));
    return reply.send({ ok: true });
  });
}

function unknownRequest(id: string): PolicyError {
  return new PolicyError(`no pending model call ${id} (already answered, timed out or cancelled)`, {
    status: 404,
    type: "not_found",
    code: "request_not_found",
  });
}
