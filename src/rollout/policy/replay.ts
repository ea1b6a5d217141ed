/**
 * Replays a recorded trajectory: the k-th call of a session gets the k-th recorded answer (by `step`, so
 * the result does not depend on timing or on how many sessions run at once). Sources: the proxy's own
 * JSONL of ModelCallRecord, or a plain list of PolicyResponse. Past the end of the recording the call
 * ends with a clean OpenAI error (404 `replay_exhausted`).
 */
import { readFileSync } from "node:fs";
import type {
  ChatCompletionRequest,
  ModelCallRecord,
  PolicyBackend,
  PolicyContext,
  PolicyResponse,
} from "../types.js";
import { PolicyError } from "./errors.js";
import { describeIssues, ModelCallRecordSchema, PolicyResponseSchema } from "./schema.js";

export interface ReplayOptions {
  /** Replay only this recorded session (for a file that holds several). */
  session_id?: string;
  /** Fail a call (409 `replay_mismatch`) whose messages differ from the recorded request's. */
  strict?: boolean;
}

interface Entry {
  response: PolicyResponse | null;
  error?: ModelCallRecord["error"];
  /** JSON of the recorded messages, for `strict`. */
  messages?: string;
}

export class ReplayPolicy implements PolicyBackend {
  /** Entries by step, shared by every session, or per recorded session id. */
  private readonly shared: Entry[] | undefined;
  private readonly bySession: Map<string, Entry[]> | undefined;
  private readonly strict: boolean;

  private constructor(
    shared: Entry[] | undefined,
    bySession: Map<string, Entry[]> | undefined,
    strict: boolean,
  ) {
    this.shared = shared;
    this.bySession = bySession;
    this.strict = strict;
  }

  static fromResponses(responses: PolicyResponse[]): ReplayPolicy {
    return new ReplayPolicy(
      responses.map((response) => ({ response })),
      undefined,
      false,
    );
  }

  /**
   * One recorded session is replayed to every session; several are replayed to the sessions of the same id
   * (record a batch, replay it with the same session ids) unless `session_id` picks one.
   */
  static fromRecords(records: ModelCallRecord[], opts: ReplayOptions = {}): ReplayPolicy {
    const groups = new Map<string, Entry[]>();
    for (const r of records) {
      if (opts.session_id !== undefined && r.session_id !== opts.session_id) continue;
      let list = groups.get(r.session_id);
      if (!list) {
        list = [];
        groups.set(r.session_id, list);
      }
      const entry: Entry = { response: r.response };
      if (r.error) entry.error = r.error;
      if (opts.strict) entry.messages = JSON.stringify(r.request.messages);
      list[r.step] = entry;
    }
    if (groups.size === 0) {
      const which = opts.session_id === undefined ? "" : ` for session ${opts.session_id}`;
      throw new PolicyError(`the recording has no model calls${which}`, {
        status: 500,
        type: "config_error",
      });
    }
    const strict = opts.strict ?? false;
    if (groups.size === 1) return new ReplayPolicy([...groups.values()][0], undefined, strict);
    return new ReplayPolicy(undefined, groups, strict);
  }

  /**
   * Loads a `.jsonl` of ModelCallRecord or PolicyResponse lines, or a `.json` array of either. Read at
   * startup, before any call, so a bad file fails fast with the line that is wrong.
   */
  static fromFile(path: string, opts: ReplayOptions = {}): ReplayPolicy {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw loadError(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    const items: unknown[] = [];
    if (text.trimStart().startsWith("[")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw loadError(path, "not valid JSON");
      }
      if (!Array.isArray(parsed)) throw loadError(path, "not a JSON array");
      items.push(...parsed);
    } else {
      text.split("\n").forEach((line, i) => {
        if (line.trim() === "") return;
        try {
          items.push(JSON.parse(line));
        } catch {
          throw loadError(path, `line ${i + 1} is not JSON`);
        }
      });
    }
    if (items.length === 0) throw loadError(path, "no entries");
    const isRecord = typeof items[0] === "object" && items[0] !== null && "session_id" in items[0];
    if (isRecord) {
      const records = items.map((item, i) => {
        const r = ModelCallRecordSchema.safeParse(item);
        if (!r.success) throw loadError(path, `entry ${i + 1}: ${describeIssues(r.error)}`);
        return r.data as ModelCallRecord;
      });
      return ReplayPolicy.fromRecords(records, opts);
    }
    const responses = items.map((item, i) => {
      const r = PolicyResponseSchema.safeParse(item);
      if (!r.success) throw loadError(path, `entry ${i + 1}: ${describeIssues(r.error)}`);
      return r.data;
    });
    return ReplayPolicy.fromResponses(responses);
  }

  async complete(request: ChatCompletionRequest, ctx: PolicyContext): Promise<PolicyResponse> {
    const entries = this.shared ?? this.bySession?.get(ctx.sessionId);
    if (!entries) {
      throw new PolicyError(`the recording has no trajectory for session ${ctx.sessionId}`, {
        status: 404,
        type: "replay_exhausted",
        code: "replay_no_session",
      });
    }
    const entry = entries[ctx.step];
    if (!entry) {
      throw new PolicyError(
        `replay exhausted: the recording has no call ${ctx.step} (${entries.length} recorded)`,
        {
          status: 404,
          type: "replay_exhausted",
          code: "replay_exhausted",
        },
      );
    }
    if (entry.messages !== undefined && entry.messages !== JSON.stringify(request.messages)) {
      throw new PolicyError(`replay mismatch at call ${ctx.step}: the messages differ from the recording`, {
        status: 409,
        type: "replay_mismatch",
        code: "replay_mismatch",
      });
    }
    if (entry.response) return entry.response;
    const e = entry.error;
    throw new PolicyError(e?.message ?? `the recorded call ${ctx.step} has no response`, {
      status: e?.status ?? 500,
      type: e?.type ?? "replay_error",
      ...(e?.code === undefined ? {} : { code: e.code }),
    });
  }
}

function loadError(path: string, why: string): PolicyError {
  return new PolicyError(`cannot replay ${path}: ${why}`, { status: 500, type: "config_error" });
}
