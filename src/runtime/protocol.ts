/**
 * Wire models of the SWE-ReX 1.4 `swerex-remote` protocol: one zod schema per model, with upstream's exact
 * defaults and snake_case field names. Unknown keys are dropped (pydantic's default), and an absent
 * discriminator (`session_type`, `action_type`) is filled in, so older or hand-written clients work.
 *
 * Each schema has two types: `XInput` (what a caller may send, defaults optional) and `X` (after parsing).
 */
import { z } from "zod";

/** Fills in a discriminator that a body left out before a discriminated union looks at it. */
function defaultKey<T extends z.ZodType>(key: string, value: string, schema: T) {
  return z.preprocess((raw) => {
    if (
      raw !== null &&
      typeof raw === "object" &&
      !Array.isArray(raw) &&
      (raw as Record<string, unknown>)[key] === undefined
    ) {
      return { ...(raw as Record<string, unknown>), [key]: value };
    }
    return raw;
  }, schema);
}

/** Seconds; `null` means "no limit" wherever upstream allows `None`. */
const seconds = z.number().nonnegative();

export const IsAliveResponse = z.object({
  is_alive: z.boolean(),
  message: z.string().default(""),
});
export type IsAliveResponse = z.infer<typeof IsAliveResponse>;

export const CreateBashSessionRequest = z.object({
  startup_source: z.array(z.string()).default([]),
  session: z.string().default("default"),
  session_type: z.literal("bash").default("bash"),
  startup_timeout: seconds.default(1.0),
});
export type CreateBashSessionRequest = z.infer<typeof CreateBashSessionRequest>;

export const CreateSessionRequest = defaultKey(
  "session_type",
  "bash",
  z.discriminatedUnion("session_type", [CreateBashSessionRequest]),
);
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;
export type CreateSessionRequestInput = z.input<typeof CreateBashSessionRequest>;

export const CreateBashSessionResponse = z.object({
  output: z.string().default(""),
  session_type: z.literal("bash").default("bash"),
});
export type CreateBashSessionResponse = z.infer<typeof CreateBashSessionResponse>;
export const CreateSessionResponse = CreateBashSessionResponse;
export type CreateSessionResponse = CreateBashSessionResponse;

export const CheckMode = z.enum(["silent", "raise", "ignore"]);
export type CheckMode = z.infer<typeof CheckMode>;

export const BashAction = z.object({
  command: z.string(),
  session: z.string().default("default"),
  timeout: seconds.nullable().default(null),
  is_interactive_command: z.boolean().default(false),
  is_interactive_quit: z.boolean().default(false),
  check: CheckMode.default("raise"),
  error_msg: z.string().default(""),
  expect: z.array(z.string()).default([]),
  action_type: z.literal("bash").default("bash"),
});
export type BashAction = z.infer<typeof BashAction>;
export type BashActionInput = z.input<typeof BashAction>;

export const BashInterruptAction = z.object({
  session: z.string().default("default"),
  timeout: seconds.default(0.2),
  n_retry: z.number().int().nonnegative().default(3),
  expect: z.array(z.string()).default([]),
  action_type: z.literal("bash_interrupt").default("bash_interrupt"),
});
export type BashInterruptAction = z.infer<typeof BashInterruptAction>;
export type BashInterruptActionInput = z.input<typeof BashInterruptAction>;

export const Action = defaultKey(
  "action_type",
  "bash",
  z.discriminatedUnion("action_type", [BashAction, BashInterruptAction]),
);
export type Action = z.infer<typeof Action>;
/** What a caller passes: a bash command (discriminator optional) or an interrupt (discriminator required). */
export type ActionInput =
  | (Omit<BashActionInput, "action_type"> & { action_type?: "bash" })
  | (BashInterruptActionInput & { action_type: "bash_interrupt" });

export const BashObservation = z.object({
  output: z.string().default(""),
  exit_code: z.number().int().nullable().default(null),
  failure_reason: z.string().default(""),
  expect_string: z.string().default(""),
  session_type: z.literal("bash").default("bash"),
  /**
   * Not in SWE-ReX (its clients ignore it): set only when something about the output needs saying,
   * e.g. `{output_truncated: true, output_dropped_chars: N}` when the output bound dropped its middle.
   */
  extra_info: z.record(z.string(), z.unknown()).optional(),
});
export type BashObservation = z.infer<typeof BashObservation>;
export const Observation = BashObservation;
export type Observation = BashObservation;

export const CloseBashSessionRequest = z.object({
  session: z.string().default("default"),
  session_type: z.literal("bash").default("bash"),
});
export const CloseSessionRequest = defaultKey(
  "session_type",
  "bash",
  z.discriminatedUnion("session_type", [CloseBashSessionRequest]),
);
export type CloseSessionRequest = z.infer<typeof CloseSessionRequest>;
export type CloseSessionRequestInput = z.input<typeof CloseBashSessionRequest>;

export const CloseBashSessionResponse = z.object({
  session_type: z.literal("bash").default("bash"),
});
export const CloseSessionResponse = CloseBashSessionResponse;
export type CloseSessionResponse = z.infer<typeof CloseBashSessionResponse>;

export const Command = z.object({
  command: z.union([z.string(), z.array(z.string())]),
  timeout: seconds.nullable().default(null),
  shell: z.boolean().default(false),
  check: z.boolean().default(false),
  error_msg: z.string().default(""),
  env: z.record(z.string(), z.string()).nullable().default(null),
  cwd: z.string().nullable().default(null),
  merge_output_streams: z.boolean().default(false),
});
export type Command = z.infer<typeof Command>;
export type CommandInput = z.input<typeof Command>;

export const CommandResponse = z.object({
  stdout: z.string().default(""),
  stderr: z.string().default(""),
  exit_code: z.number().int().nullable().default(null),
  /** Not in SWE-ReX (its clients ignore it): `{output_truncated, stdout_dropped_bytes, ...}` when bounded. */
  extra_info: z.record(z.string(), z.unknown()).optional(),
});
export type CommandResponse = z.infer<typeof CommandResponse>;

export const ReadFileRequest = z.object({
  path: z.string(),
  encoding: z.string().nullable().default(null),
  errors: z.string().nullable().default(null),
});
export type ReadFileRequest = z.infer<typeof ReadFileRequest>;
export type ReadFileRequestInput = z.input<typeof ReadFileRequest>;

export const ReadFileResponse = z.object({ content: z.string().default("") });
export type ReadFileResponse = z.infer<typeof ReadFileResponse>;

export const WriteFileRequest = z.object({ content: z.string(), path: z.string() });
export type WriteFileRequest = z.infer<typeof WriteFileRequest>;

export const EmptyResponse = z.object({});
export const WriteFileResponse = EmptyResponse;
export type WriteFileResponse = z.infer<typeof EmptyResponse>;
export const UploadResponse = EmptyResponse;
export type UploadResponse = z.infer<typeof EmptyResponse>;
export const CloseResponse = EmptyResponse;
export type CloseResponse = z.infer<typeof EmptyResponse>;

export const UploadRequest = z.object({ source_path: z.string(), target_path: z.string() });
export type UploadRequest = z.infer<typeof UploadRequest>;

/** The `swerexception` body of an HTTP 511 response. */
export const ExceptionTransfer = z.object({
  message: z.string().default(""),
  class_path: z.string().default(""),
  traceback: z.string().default(""),
  extra_info: z.record(z.string(), z.unknown()).default({}),
});
export type ExceptionTransfer = z.infer<typeof ExceptionTransfer>;
