/**
 * The trainer policy over HTTP (the seed's get_request/send_response), for rollouts with
 * `policy.type=trainer`:
 *   GET  /v1/rollouts/{id}/calls/next?timeout=S   the next model call of one rollout (204: none, or it ended)
 *   GET  /v1/calls/next?timeout=S                 the next call of any of the key's rollouts (204: none)
 *   POST /v1/calls/{call_id}                      answers it with a PolicyResponse
 *   POST /v1/calls/{call_id}/error                fails it; the agent gets an OpenAI error
 * A poller that hangs up before it gets its call puts the call back in line.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RolloutService } from "../../controlplane/rollouts.js";
import { guardedRoute } from "./rollout-routes.js";
import { CallErrorBody, CallPollQuery, CallResponseBody } from "./rollout-schemas.js";
import { parse } from "./routes.js";

export function callRoutes(app: FastifyInstance, opts: { rollouts: RolloutService }): void {
  const { rollouts } = opts;
  // Closing the server ends every long-poll at once (204) instead of waiting out its timeout.
  const closing = new AbortController();
  const shutdown = closing.signal;
  app.addHook("preClose", (done) => {
    closing.abort();
    done();
  });

  const poll = async (req: FastifyRequest, reply: FastifyReply, rolloutId?: string) => {
    const { timeout } = parse(CallPollQuery, req.query ?? {});
    const gone = new AbortController();
    const onGone = () => gone.abort();
    reply.raw.once("close", onGone);
    try {
      const call = await rollouts.nextCall(req.owner, {
        timeoutMs: timeout * 1000,
        signal: AbortSignal.any([gone.signal, shutdown]),
        ...(rolloutId !== undefined ? { rolloutId } : {}),
      });
      if (call === null) return reply.code(204).send();
      if (reply.raw.destroyed || req.raw.socket.destroyed) {
        rollouts.release(call.call_id);
        return reply;
      }
      return reply.send(call);
    } catch (err) {
      if (gone.signal.aborted || shutdown.aborted) return reply.code(204).send();
      throw err;
    } finally {
      reply.raw.removeListener("close", onGone);
    }
  };

  app.get(
    "/v1/rollouts/:id/calls/next",
    guardedRoute<{ id: string }>(async (req, reply) => poll(req, reply, req.params.id)),
  );
  app.get(
    "/v1/calls/next",
    guardedRoute(async (req, reply) => poll(req, reply)),
  );
  app.post(
    "/v1/calls/:call_id",
    guardedRoute<{ call_id: string }>(async (req) => {
      const body = parse(CallResponseBody, req.body ?? {});
      rollouts.answer(req.owner, req.params.call_id, body);
      return { ok: true };
    }),
  );
  app.post(
    "/v1/calls/:call_id/error",
    guardedRoute<{ call_id: string }>(async (req) => {
      const e = parse(CallErrorBody, req.body ?? {});
      rollouts.fail(req.owner, req.params.call_id, {
        message: e.message,
        status: e.status,
        ...(e.code !== undefined ? { code: e.code } : {}),
        ...(e.type !== undefined ? { type: e.type } : {}),
      });
      return { ok: true };
    }),
  );
}
