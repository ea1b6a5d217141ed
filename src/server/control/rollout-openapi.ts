/** The OpenAPI paths and schemas of `/v1/rollouts` and `/v1/calls` (merged into openapi.ts's document). */
import {
  CallErrorBody,
  CallResponseBody,
  CreateRolloutBody,
  ModelCall,
  Rollout,
  RolloutCreated,
  RolloutList,
} from "./rollout-schemas.js";

/** Registered under their `meta().id` in the document's components. */
export const ROLLOUT_SCHEMAS = [
  CreateRolloutBody,
  Rollout,
  RolloutList,
  RolloutCreated,
  ModelCall,
  CallResponseBody,
  CallErrorBody,
];

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ content: { "application/json": { schema: ref(id) } } });
const error = (description: string) => ({ description, ...json("Error") });
const path = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const auth = { "401": error("Missing or unknown API key") };
const notFound = (what: string) => ({ "404": error(`No such ${what} (or not yours)`) });
const timeout = {
  name: "timeout",
  in: "query",
  schema: { type: "number", minimum: 0, maximum: 60, default: 30 },
  description: "Seconds to wait for a call",
};
const poll = (summary: string, params: object[]) => ({
  get: {
    summary,
    parameters: [...params, timeout],
    responses: {
      "200": { description: "A model call", ...json("ModelCall") },
      "204": { description: "No call within timeout (or the rollout ended)" },
      ...auth,
      "422": error("Bad timeout"),
    },
  },
});
const ok = { "200": { description: "Delivered to the agent" } };

export const ROLLOUT_PATHS: Record<string, unknown> = {
  "/v1/rollouts": {
    post: {
      summary: "Start a rollout (queued FIFO under --max_rollouts)",
      parameters: [{ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string" } }],
      requestBody: { required: true, ...json("CreateRollout") },
      responses: {
        "201": { description: "Accepted (or an idempotent replay)", ...json("RolloutCreated") },
        ...auth,
        "422": error("Invalid task, agent, policy, reward or deployment (each field named)"),
      },
    },
    get: {
      summary: "List your rollouts (results left out)",
      parameters: [
        { name: "state", in: "query", schema: { type: "string" }, description: "state[,state...]" },
        { name: "metadata.KEY", in: "query", schema: { type: "string" }, description: "exact match" },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
        { name: "cursor", in: "query", schema: { type: "string" } },
      ],
      responses: {
        "200": { description: "A page", ...json("RolloutList") },
        ...auth,
        "422": error("Bad query"),
      },
    },
  },
  "/v1/rollouts/{id}": {
    get: {
      summary: "A rollout and, when done, its result record",
      parameters: [path("id")],
      responses: { "200": json("Rollout"), ...auth, ...notFound("rollout") },
    },
    delete: {
      summary: "Cancel a rollout (its sandbox is stopped); a finished one is returned as it is",
      parameters: [path("id")],
      responses: { "200": json("Rollout"), ...auth, ...notFound("rollout") },
    },
  },
  "/v1/rollouts/{id}/calls/next": poll("Long-poll for this rollout's next model call", [path("id")]),
  "/v1/calls/next": poll("Long-poll for the next model call of any of your rollouts", []),
  "/v1/calls/{call_id}": {
    post: {
      summary: "Answer a model call (PolicyResponse; token ids reach the trajectory and verl fields)",
      parameters: [path("call_id")],
      requestBody: { required: true, ...json("CallResponse") },
      responses: { ...ok, ...auth, ...notFound("pending call"), "422": error("Invalid PolicyResponse") },
    },
  },
  "/v1/calls/{call_id}/error": {
    post: {
      summary: "Fail a model call; the agent gets an OpenAI error with this status",
      parameters: [path("call_id")],
      requestBody: { required: true, ...json("CallError") },
      responses: { ...ok, ...auth, ...notFound("pending call"), "422": error("Invalid error body") },
    },
  },
};
