/**
 * `docker_args` (SWE-ReX passes them to `docker run`) translated into the Engine API's create body. We talk to
 * the API, not the CLI, so only the flags below mean anything; any other flag is an error that lists them,
 * rather than being silently dropped.
 */
import type Docker from "dockerode";
import { parseCpus, parseSize } from "./units.js";

/** The parts of a container-create body that `docker_args` can set. */
export interface ContainerSettings {
  Env: string[];
  Labels: Record<string, string>;
  User?: string;
  WorkingDir?: string;
  Hostname?: string;
  HostConfig: Docker.HostConfig & { Binds: string[] };
}

interface OptionSpec {
  names: string[];
  /** Boolean flags take no value (`--init`, or `--init=false`). */
  flag?: boolean;
  apply(value: string, out: ContainerSettings): void;
}

function keyValue(value: string, what: string): [string, string] {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new Error(`${what} expects KEY=VALUE, got '${value}'`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

function bool(value: string, name: string): boolean {
  if (value === "" || value === "true") return true;
  if (value === "false") return false;
  throw new Error(`${name} expects true or false, got '${value}'`);
}

function integer(value: string, name: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error(`${name} expects an integer, got '${value}'`);
  return Number(value);
}

const OPTIONS: OptionSpec[] = [
  {
    names: ["--cpus"],
    apply: (v, o) => {
      o.HostConfig.NanoCpus = parseCpus(v);
    },
  },
  {
    names: ["--memory", "-m"],
    apply: (v, o) => {
      o.HostConfig.Memory = parseSize(v);
    },
  },
  {
    names: ["--memory-swap"],
    apply: (v, o) => {
      o.HostConfig.MemorySwap = v === "-1" ? -1 : parseSize(v);
    },
  },
  {
    names: ["--shm-size"],
    apply: (v, o) => {
      o.HostConfig.ShmSize = parseSize(v);
    },
  },
  {
    names: ["--pids-limit"],
    apply: (v, o) => {
      o.HostConfig.PidsLimit = integer(v, "--pids-limit");
    },
  },
  {
    names: ["--env", "-e"],
    apply: (v, o) => {
      // As the docker CLI: `-e NAME` copies NAME from our own environment, and is dropped when unset.
      if (v.includes("=")) o.Env.push(v);
      else if (process.env[v] !== undefined) o.Env.push(`${v}=${process.env[v]}`);
    },
  },
  {
    names: ["--label", "-l"],
    apply: (v, o) => {
      const eq = v.indexOf("=");
      if (eq === 0) throw new Error(`--label expects KEY[=VALUE], got '${v}'`);
      if (eq < 0) o.Labels[v] = "";
      else o.Labels[v.slice(0, eq)] = v.slice(eq + 1);
    },
  },
  {
    names: ["--volume", "-v"],
    apply: (v, o) => {
      if (!v.includes(":")) throw new Error(`--volume expects SOURCE:TARGET[:OPTIONS], got '${v}'`);
      o.HostConfig.Binds.push(v);
    },
  },
  {
    names: ["--tmpfs"],
    apply: (v, o) => {
      const colon = v.indexOf(":");
      const [path, opts] = colon < 0 ? [v, ""] : [v.slice(0, colon), v.slice(colon + 1)];
      o.HostConfig.Tmpfs = { ...(o.HostConfig.Tmpfs ?? {}), [path]: opts };
    },
  },
  {
    names: ["--network", "--net"],
    apply: (v, o) => {
      o.HostConfig.NetworkMode = v;
    },
  },
  {
    names: ["--ulimit"],
    apply: (v, o) => {
      const [name, limits] = keyValue(v, "--ulimit");
      const [soft = "", hard = soft] = limits.split(":");
      o.HostConfig.Ulimits = [
        ...(o.HostConfig.Ulimits ?? []),
        { Name: name, Soft: integer(soft, "--ulimit"), Hard: integer(hard, "--ulimit") },
      ];
    },
  },
  {
    names: ["--add-host"],
    apply: (v, o) => {
      if (!v.includes(":")) throw new Error(`--add-host expects HOST:IP, got '${v}'`);
      o.HostConfig.ExtraHosts = [...((o.HostConfig.ExtraHosts as string[] | undefined) ?? []), v];
    },
  },
  {
    names: ["--dns"],
    apply: (v, o) => {
      o.HostConfig.Dns = [...(o.HostConfig.Dns ?? []), v];
    },
  },
  {
    names: ["--cap-add"],
    apply: (v, o) => {
      o.HostConfig.CapAdd = [...(o.HostConfig.CapAdd ?? []), v];
    },
  },
  {
    names: ["--cap-drop"],
    apply: (v, o) => {
      o.HostConfig.CapDrop = [...(o.HostConfig.CapDrop ?? []), v];
    },
  },
  {
    names: ["--security-opt"],
    apply: (v, o) => {
      o.HostConfig.SecurityOpt = [...(o.HostConfig.SecurityOpt ?? []), v];
    },
  },
  {
    names: ["--privileged"],
    flag: true,
    apply: (v, o) => {
      o.HostConfig.Privileged = bool(v, "--privileged");
    },
  },
  {
    names: ["--init"],
    flag: true,
    apply: (v, o) => {
      o.HostConfig.Init = bool(v, "--init");
    },
  },
  {
    names: ["--read-only"],
    flag: true,
    apply: (v, o) => {
      o.HostConfig.ReadonlyRootfs = bool(v, "--read-only");
    },
  },
  // Removal is `remove_container`'s job; `--rm` is accepted because SWE-agent configs often carry it.
  {
    names: ["--rm"],
    flag: true,
    apply: (v) => {
      bool(v, "--rm");
    },
  },
  {
    names: ["--user", "-u"],
    apply: (v, o) => {
      o.User = v;
    },
  },
  {
    names: ["--workdir", "-w"],
    apply: (v, o) => {
      o.WorkingDir = v;
    },
  },
  {
    names: ["--hostname", "-h"],
    apply: (v, o) => {
      o.Hostname = v;
    },
  },
];

const BY_NAME = new Map(OPTIONS.flatMap((spec) => spec.names.map((n) => [n, spec] as const)));

/** Every flag `docker_args` may hold, for error messages and docs. */
export const SUPPORTED_DOCKER_ARGS: readonly string[] = OPTIONS.map((s) => s.names.join("/"));

export class DockerArgsError extends Error {}

export function emptySettings(): ContainerSettings {
  return { Env: [], Labels: {}, HostConfig: { Binds: [] } };
}

/**
 * Applies `docker_args` on top of `base` (a fresh settings object by default). Accepts `--flag value`,
 * `--flag=value`, `-f value` and `-fvalue`. `--platform` never reaches here: the config schema moves it into
 * the `platform` field.
 */
export function applyDockerArgs(
  args: readonly string[],
  base: ContainerSettings = emptySettings(),
): ContainerSettings {
  const out = base;
  for (let i = 0; i < args.length; i++) {
    const token = args[i] ?? "";
    let name: string;
    let inline: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      name = eq < 0 ? token : token.slice(0, eq);
      inline = eq < 0 ? undefined : token.slice(eq + 1);
    } else if (/^-[a-zA-Z]/.test(token)) {
      name = token.slice(0, 2);
      const rest = token.slice(2);
      inline = rest === "" ? undefined : rest.replace(/^=/, "");
    } else {
      throw new DockerArgsError(
        `docker_args may only hold options, got '${token}' (the image is set with 'image', the command is fixed)`,
      );
    }
    const spec = BY_NAME.get(name);
    if (!spec) {
      throw new DockerArgsError(
        `Unsupported docker_args option '${name}'. Supported options: ${SUPPORTED_DOCKER_ARGS.join(", ")}`,
      );
    }
    let value: string;
    if (spec.flag) value = inline ?? "";
    else if (inline !== undefined) value = inline;
    else {
      const next = args[i + 1];
      if (next === undefined)
        throw new DockerArgsError(`docker_args option '${name}' must be followed by a value`);
      value = next;
      i++;
    }
    try {
      spec.apply(value, out);
    } catch (err) {
      throw new DockerArgsError(`docker_args option '${name}': ${(err as Error).message}`);
    }
  }
  return out;
}
