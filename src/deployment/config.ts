/**
 * `DeploymentConfig`: the zod union of every deployment's config, discriminated by `type`, and
 * `getDeployment(config)`, SWE-ReX's factory. Every member is a strict object (pydantic `extra="forbid"`), so a
 * misspelled key is an error that names it.
 *
 * Adding a deployment type = two edits here: its schema in `DEPLOYMENT_CONFIGS` and a case in `getDeployment`
 * (TypeScript reports a missing case).
 */
import { z } from "zod";
import { ConfigError, coerceStringFields, type WhereFn, zodIssues } from "../config/index.js";
import { TencentAGSDeployment, TencentAGSDeploymentConfig } from "./ags/index.js";
import { ControlPlaneDeployment, ControlPlaneDeploymentConfig } from "./controlplane/index.js";
import type { Deployment } from "./deployment.js";
import { DockerDeployment, DockerDeploymentConfig } from "./docker/index.js";
import { DummyDeployment, DummyDeploymentConfig } from "./dummy.js";
import { LocalDeployment, LocalDeploymentConfig } from "./local.js";
import { RemoteDeployment, RemoteDeploymentConfig } from "./remote.js";

/** The members of the union, one per `type`. */
export const DEPLOYMENT_CONFIGS = [
  LocalDeploymentConfig,
  RemoteDeploymentConfig,
  DummyDeploymentConfig,
  DockerDeploymentConfig,
  TencentAGSDeploymentConfig,
  ControlPlaneDeploymentConfig,
] as const;

export const DeploymentConfig = z.discriminatedUnion("type", DEPLOYMENT_CONFIGS);
export type DeploymentConfig = z.output<typeof DeploymentConfig>;
export type DeploymentConfigInput = z.input<typeof DeploymentConfig>;
export type DeploymentType = DeploymentConfig["type"];

export interface ParseDeploymentConfigOptions {
  /** The type used when the object has none (the CLI passes the `deployment_type` setting). */
  defaultType?: string;
  /** Names a key in error messages; default: the key's dotted path, e.g. `pull`. */
  where?: WhereFn;
}

/**
 * Validates a deployment config (raw, e.g. from YAML or flags, or already parsed) and fills in defaults.
 * Throws {@link ConfigError}, e.g. `--instances.deployment.pull: expected one of never|always|missing, got "sometimes"`.
 */
export function parseDeploymentConfig(
  raw: unknown,
  opts: ParseDeploymentConfigOptions = {},
): DeploymentConfig {
  const where: WhereFn = opts.where ?? ((path) => (path.length > 0 ? path.join(".") : "deployment config"));
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([
      { where: where([]), message: `expected an object with a "type" key, got ${JSON.stringify(raw)}` },
    ]);
  }
  const input = { ...(raw as Record<string, unknown>) };
  if (input.type === undefined && opts.defaultType !== undefined) input.type = opts.defaultType;
  const member = memberFor(input.type);
  if (!member) {
    const types = deploymentTypes().join("|");
    const message =
      input.type === undefined
        ? `required (one of ${types})`
        : `expected one of ${types}, got ${JSON.stringify(input.type)}`;
    throw new ConfigError([{ where: where(["type"]), message }]);
  }
  const shape = objectOf(member);
  const value = shape ? coerceStringFields(shape, input) : input;
  const result = DeploymentConfig.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(
    zodIssues(result.error, {
      input: value,
      where,
      owner: `deployment type "${String(input.type)}"`,
      acceptedKeys: shape ? Object.keys(shape.shape) : undefined,
    }),
  );
}

/** SWE-ReX's `get_deployment`: the deployment a config describes (raw or parsed); it is not started. */
export function getDeployment(config: DeploymentConfigInput | DeploymentConfig | unknown): Deployment {
  const c = parseDeploymentConfig(config);
  switch (c.type) {
    case "local":
      return new LocalDeployment(c);
    case "remote":
      return new RemoteDeployment(c);
    case "dummy":
      return new DummyDeployment(c);
    case "docker":
      return new DockerDeployment(c);
    case "tencentags":
      return new TencentAGSDeployment(c);
    case "controlplane":
      return new ControlPlaneDeployment(c);
    default:
      return unreachable(c);
  }
}

/** Every `type` the union accepts, in declaration order. */
export function deploymentTypes(): string[] {
  return DEPLOYMENT_CONFIGS.map((m) => typeOf(m));
}

function unreachable(c: never): never {
  throw new Error(`no deployment for config ${JSON.stringify(c)}`);
}

type Member = (typeof DEPLOYMENT_CONFIGS)[number];

function memberFor(type: unknown): Member | undefined {
  return DEPLOYMENT_CONFIGS.find((m) => typeOf(m) === type);
}

/** The object schema inside a member (members may be wrapped in `.transform()` pipes). */
function objectOf(schema: z.ZodType): z.ZodObject | undefined {
  let s: z.ZodType = schema;
  while (s.def.type === "pipe") s = (s.def as unknown as { in: z.ZodType }).in;
  return s instanceof z.ZodObject ? s : undefined;
}

/** A member's `type` literal, read from its schema. */
function typeOf(member: z.ZodType): string {
  let t = objectOf(member)?.shape.type as z.ZodType | undefined;
  while (t && (t.def.type === "default" || t.def.type === "optional")) {
    t = (t.def as unknown as { innerType: z.ZodType }).innerType;
  }
  if (!(t instanceof z.ZodLiteral))
    throw new Error("every DeploymentConfig member needs a literal `type` field");
  return String(t.value);
}
