/**
 * `swerex sandbox create|list|get|rm|lease`: operators' view of a `swerex serve` (docs/control-plane.md).
 * One table on a terminal (tab-separated lines otherwise, for `cut`/`awk`), the API's JSON with `--json`.
 * A service error is printed as its status and message; exit 2 for bad usage, 1 for what the service refused
 * or could not do. The API key is never printed.
 */
import { z } from "zod";
import { ConfigError, loadConfig, parseDottedFlags, zodIssues } from "../../config/index.js";
import {
  ControlPlaneApiError,
  ControlPlaneClient,
  ControlPlaneUnavailableError,
  type SandboxResource,
  toEpochMs,
} from "../../deployment/controlplane/client.js";

export const description = "create, list, inspect, extend and remove sandboxes of a swerex serve";

const EXIT = { ok: 0, service: 1, usage: 2 } as const;
/** A create waits until the sandbox runs, which may include pulling its image. */
const CALL_TIMEOUT_MS = 15 * 60_000;
/** `list` follows `next_cursor` pages of this size until `--limit` records are shown. */
const PAGE_SIZE = 100;
/** Flags that take no value: `--json ID` must not read ID as the flag's value. */
const BOOLEAN_FLAGS = ["json", "wait", "help"];

const USAGE = `Usage: swerex sandbox <create|list|get|rm|lease> [args] [flags]

  create [--deployment.<key>=<value>...] [--ttl S] [--metadata.<key>=<value>...] [--no-wait]
                          start a sandbox (the service's default deployment, with these keys over it)
  list [--state S] [--metadata.<key>=<value>...] [--limit N]
                          sandboxes of this API key, oldest first (default limit 1000)
  get ID                  one sandbox
  rm ID...                stop and remove sandboxes (removing one twice is fine)
  lease ID [--ttl S]      extend a sandbox's lease to S seconds from now (default: the service's)

Flags:
  --url URL               the service, e.g. http://127.0.0.1:8080 (env SWEREX_URL)
  --api_key KEY           API key (env SWEREX_API_KEY)
  --json                  print the API's JSON instead of a table
  --idempotency_key K     create: a retry with the same key returns the same sandbox
  --config FILE           config file (flags > SWEREX_* env vars > file)

Exit status: 0 done; 1 the service refused or could not be reached; 2 bad usage.

Example:
  swerex sandbox create --url http://127.0.0.1:8080 --deployment.type=docker --deployment.image=python:3.11
`;

const Options = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^/]/i, "must start with http:// or https://"),
  api_key: z.union([z.string(), z.number()]).transform(String).default(""),
  json: z.boolean().default(false),
  wait: z.boolean().default(true),
  deployment: z.record(z.string(), z.unknown()).optional(),
  ttl: z.coerce.number().positive().optional(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  state: z.string().optional(),
  limit: z.coerce.number().int().positive().default(1000),
  idempotency_key: z.union([z.string(), z.number()]).transform(String).optional(),
});
type Options = z.infer<typeof Options>;

export interface SandboxCommandContext {
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

type Action = (client: ControlPlaneClient, ids: string[], o: Options, out: Output) => Promise<void>;

const ACTIONS: Record<string, { ids: "none" | "one" | "many"; act: Action }> = {
  create: {
    ids: "none",
    act: async (client, _ids, o, out) => {
      const { sandbox } = await client.create(
        {
          ...(o.deployment ? { deployment: o.deployment } : {}),
          ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
          ...(o.metadata ? { metadata: o.metadata } : {}),
          wait: o.wait,
        },
        { ...(o.idempotency_key ? { idempotencyKey: o.idempotency_key } : {}), signal: out.signal },
      );
      out.record(sandbox);
    },
  },
  list: {
    ids: "none",
    act: async (client, _ids, o, out) => {
      const items: SandboxResource[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.list(
          {
            ...(o.state ? { state: o.state } : {}),
            ...(o.metadata ? { metadata: o.metadata } : {}),
            limit: Math.min(PAGE_SIZE, o.limit - items.length),
            ...(cursor ? { cursor } : {}),
          },
          { signal: out.signal },
        );
        items.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor && items.length < o.limit);
      out.list(items.slice(0, o.limit));
    },
  },
  get: {
    ids: "one",
    act: async (client, ids, _o, out) =>
      out.record(await client.get(ids[0] as string, { signal: out.signal })),
  },
  rm: {
    ids: "many",
    act: async (client, ids, _o, out) => {
      const removed: SandboxResource[] = [];
      for (const id of ids) removed.push(await client.delete(id, { signal: out.signal }));
      out.list(removed);
    },
  },
  lease: {
    ids: "one",
    act: async (client, ids, o, out) => {
      const id = ids[0] as string;
      // No --ttl: renew to the lease the sandbox has now (what the service gave it at create).
      const ttl = o.ttl ?? (await currentLeaseSeconds(client, id, out.signal));
      out.record(await client.renewLease(id, ttl, { signal: out.signal }));
    },
  },
};

export async function run(argv: string[], ctx: SandboxCommandContext = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  const fail = (code: number, message: string) => {
    stderr.write(`swerex sandbox: ${message.replaceAll("\n", "\nswerex sandbox: ")}\n`);
    return code;
  };
  let options: Options;
  let sub: string;
  let ids: string[];
  try {
    const flags = parseDottedFlags(
      argv.map((a) => (BOOLEAN_FLAGS.includes(a.slice(2)) && a.startsWith("--") ? `${a}=true` : a)),
    );
    const config = loadConfig({ argv: flags, env: ctx.env, accept: Object.keys(Options.shape) });
    [sub = "", ...ids] = config.positionals;
    if (flags.values.help === true || sub === "help") {
      stdout.write(USAGE);
      return EXIT.ok;
    }
    const action = ACTIONS[sub];
    if (!Object.hasOwn(ACTIONS, sub) || !action) {
      return fail(EXIT.usage, `${sub ? `unknown subcommand "${sub}"` : "no subcommand"}\n\n${USAGE}`);
    }
    const want = action.ids;
    if (
      (want === "none" && ids.length > 0) ||
      (want === "one" && ids.length !== 1) ||
      (want === "many" && ids.length === 0)
    ) {
      const needs =
        want === "none"
          ? "takes no sandbox id"
          : want === "one"
            ? "needs one sandbox id"
            : "needs sandbox ids";
      return fail(EXIT.usage, `${sub} ${needs}, got ${ids.length === 0 ? "none" : ids.join(" ")}`);
    }
    const own = Object.fromEntries(Object.keys(Options.shape).map((k) => [k, config.values[k]]));
    if (own.url === undefined) {
      return fail(EXIT.usage, "--url: required: the service, e.g. http://127.0.0.1:8080 (or set SWEREX_URL)");
    }
    const parsed = Options.safeParse(own);
    if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, { input: own, where: config.where }));
    options = parsed.data;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(EXIT.usage, err.message);
  }

  const client = new ControlPlaneClient({
    url: options.url,
    apiKey: options.api_key,
    timeoutMs: CALL_TIMEOUT_MS,
  });
  const out = new Output(stdout, options.json, ctx.signal);
  try {
    await (ACTIONS[sub] as (typeof ACTIONS)[string]).act(client, ids, options, out);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ControlPlaneApiError) return fail(EXIT.service, `${err.status} ${err.detail}`);
    if (err instanceof ControlPlaneUnavailableError) return fail(EXIT.service, err.message);
    if (err instanceof ConfigError) return fail(EXIT.usage, err.message);
    throw err;
  }
}

/** The lease a sandbox has now, in whole seconds (at least 1). */
async function currentLeaseSeconds(
  client: ControlPlaneClient,
  id: string,
  signal?: AbortSignal,
): Promise<number> {
  const s = await client.get(id, { signal });
  const expires = toEpochMs(s.expires_at);
  if (expires === undefined)
    throw new ConfigError([{ where: "--ttl", message: `required: sandbox ${id} has no lease to renew` }]);
  return Math.max(1, Math.ceil((expires - Date.now()) / 1000));
}

const COLUMNS: [string, (s: SandboxResource) => string][] = [
  ["ID", (s) => s.id],
  ["STATE", (s) => s.state],
  ["BACKEND", (s) => backendOf(s)],
  ["CREATED", (s) => when(s.created_at)],
  ["EXPIRES", (s) => when(s.expires_at)],
  [
    "METADATA",
    (s) =>
      Object.entries(s.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
  ],
];

/** Prints records as the API's JSON, an aligned table (terminal) or tab-separated lines (pipe). */
class Output {
  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly json: boolean,
    readonly signal: AbortSignal | undefined,
  ) {}

  record(s: SandboxResource): void {
    if (this.json) {
      this.stream.write(`${JSON.stringify(s, null, 2)}\n`);
      return;
    }
    const rows: [string, string][] = [
      ...COLUMNS.map(([name, get]): [string, string] => [name.toLowerCase(), get(s)]),
      ["started", when(s.started_at)],
      ["stopped", when(s.stopped_at)],
      ["runtime_url", s.runtime_url ?? ""],
      ["error", s.error ? `${s.error.class}: ${s.error.message}` : ""],
    ];
    this.table(
      rows.filter(([, v]) => v !== ""),
      false,
    );
  }

  list(items: SandboxResource[]): void {
    if (this.json) {
      this.stream.write(`${JSON.stringify({ items }, null, 2)}\n`);
      return;
    }
    this.table([COLUMNS.map(([name]) => name), ...items.map((s) => COLUMNS.map(([, get]) => get(s)))], true);
  }

  private table(rows: string[][], header: boolean): void {
    if (!this.stream.isTTY) {
      this.stream.write(rows.map((r) => `${r.join("\t")}\n`).join(""));
      return;
    }
    const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    const lines = rows.map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    );
    if (header && rows.length === 1) lines.push("(no sandboxes)");
    this.stream.write(`${lines.join("\n")}\n`);
  }
}

function backendOf(s: SandboxResource): string {
  const d = s.deployment;
  return d && typeof d === "object" && typeof (d as { type?: unknown }).type === "string"
    ? (d as { type: string }).type
    : "";
}

/** A timestamp as `2026-11-30 07:00:00Z` (seconds are enough to read a table). */
function when(v: string | number | null | undefined): string {
  const ms = toEpochMs(v);
  return ms === undefined ? "" : `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`;
}
