/**
 * A dockerode client for one Docker engine named by a `docker_host` URL, as the Docker CLI spells it:
 * `unix:///path/docker.sock`, `tcp://HOST:PORT` (plain, or TLS with CA/cert/key files), or
 * `ssh://USER@HOST[:PORT]` (docker-modem's ssh transport: the remote `docker system dial-stdio`, keys from
 * the ssh agent). Bad URLs throw a message naming the URL's problem, so config validation can show it.
 */
import { readFileSync } from "node:fs";
import Docker from "dockerode";

/** PEM files for a TLS-protected tcp:// engine (the Docker CLI's --tlscacert/--tlscert/--tlskey). */
export interface EngineTlsFiles {
  ca?: string | null;
  cert?: string | null;
  key?: string | null;
}

/** Docker's conventional ports when a tcp:// URL names none (2376 with TLS, 2375 without). */
const DEFAULT_TCP_PORT = 2375;
const DEFAULT_TLS_PORT = 2376;
const DEFAULT_SSH_PORT = 22;

/** Throws with a readable reason when `url` is not a docker_host this module can reach. */
export function parseDockerHost(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `docker_host ${JSON.stringify(url)} is not a URL (unix:///path, tcp://host:port, ssh://user@host)`,
    );
  }
  if (parsed.protocol === "unix:") {
    if (!parsed.pathname || parsed.pathname === "/")
      throw new Error(`docker_host ${url} names no socket path`);
  } else if (parsed.protocol === "tcp:" || parsed.protocol === "ssh:") {
    if (!parsed.hostname) throw new Error(`docker_host ${url} names no host`);
  } else {
    throw new Error(`docker_host ${url}: scheme must be unix://, tcp:// or ssh://`);
  }
  return parsed;
}

/** A client for the engine at `url`; with TLS files a tcp:// engine is spoken to over https. */
export function dockerClientFor(url: string, tls: EngineTlsFiles = {}): Docker {
  const u = parseDockerHost(url);
  if (u.protocol === "unix:") return new Docker({ socketPath: decodeURIComponent(u.pathname) });
  if (u.protocol === "ssh:") {
    return new Docker({
      protocol: "ssh",
      host: u.hostname,
      port: u.port ? Number(u.port) : DEFAULT_SSH_PORT,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      sshOptions: { agent: process.env.SSH_AUTH_SOCK },
    } as Docker.DockerOptions);
  }
  const secure = Boolean(tls.ca || tls.cert || tls.key);
  const pem = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(
        `docker_host ${url}: cannot read its ${what} file ${path} (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  };
  return new Docker({
    protocol: secure ? "https" : "http",
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : secure ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT,
    ...(tls.ca ? { ca: pem("tls_ca", tls.ca) } : {}),
    ...(tls.cert ? { cert: pem("tls_cert", tls.cert) } : {}),
    ...(tls.key ? { key: pem("tls_key", tls.key) } : {}),
  });
}
