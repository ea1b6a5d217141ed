/**
 * Shared set-up of the Docker tests: is an engine there (skip with a message locally, fail under CI), the
 * runtime bundle built from the current sources (once per process; unchanged sources are not rebuilt), the
 * local test images, and a per-file label so each file cleans up exactly its own containers.
 */
import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import { describe } from "vitest";
import { buildBundle } from "../../src/bundle/build.js";
import { DockerDeployment } from "../../src/deployment/docker/deployment.js";
import { pingEngine, sharedDockerClient } from "../../src/docker/engine.js";
import { ensureBusyboxImage, ensureDebianImage } from "./images.js";

export const docker: Docker = sharedDockerClient();

async function probe(): Promise<string | undefined> {
  try {
    await pingEngine(docker, 5000);
    return undefined;
  } catch (err) {
    return `no Docker engine at ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"} (${(err as Error).message})`;
  }
}

const unavailable = await probe();
const underCi = process.env.CI === "true" || process.env.CI === "1";
if (unavailable && underCi) {
  throw new Error(`CI=${process.env.CI}: the Docker tests need a real engine, and there is ${unavailable}`);
}
if (unavailable) {
  console.warn(`skipping Docker tests: ${unavailable}. Set DOCKER_HOST (e.g. source .ci/start-docker.sh).`);
}

export const engineAvailable = unavailable === undefined;
/** `describe` when an engine is reachable, else `describe.skip`. */
export const describeDocker: typeof describe = engineAvailable
  ? describe
  : (describe.skip as typeof describe);

let bundle: Promise<string> | undefined;
/** The runtime bundle directory, brought up to date with the sources once per test process. */
export function testBundle(): Promise<string> {
  bundle ??= buildBundle().then((b) => b.dir);
  return bundle;
}

export const busyboxImage = (): Promise<string> => ensureBusyboxImage(docker);
export const debianImage = (): Promise<string> => ensureDebianImage(docker);

/** A label unique to one test file: pass it to deployments, clean up by it. */
export function fileLabel(): { key: string; value: string; filter: string; labels: Record<string, string> } {
  const value = randomUUID();
  return { key: "swerex.test", value, filter: `swerex.test=${value}`, labels: { "swerex.test": value } };
}

export async function containersWithLabel(
  filter: string,
  engine: Docker = docker,
): Promise<Docker.ContainerInfo[]> {
  return engine.listContainers({ all: true, filters: { label: [filter] } });
}

/** Removes every container carrying the label (afterAll safety net: tests must leave nothing behind). */
export async function removeContainersWithLabel(filter: string, engine: Docker = docker): Promise<number> {
  const list = await containersWithLabel(filter, engine).catch(() => []);
  await Promise.all(
    list.map((c) =>
      engine
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {}),
    ),
  );
  return list.length;
}

/** Progress sink for tests: keeps the lines for assertions, prints nothing. */
export function progressLog(): { lines: string[]; onProgress: (m: string) => void } {
  const lines: string[] = [];
  return { lines, onProgress: (m) => lines.push(m) };
}

export type DockerConfigInput = ConstructorParameters<typeof DockerDeployment>[0];

/**
 * A (not yet started) DockerDeployment of a local test image with the test bundle mounted, carrying the test
 * file's label; `extra` overrides any field. Generous start-up: many test runs share two cores.
 */
export function testDeployment(
  base: { image: string; bundleDir: string; labels: Record<string, string> },
  extra: DockerConfigInput = {},
): DockerDeployment {
  return new DockerDeployment(
    {
      image: base.image,
      pull: "never",
      runtime_mount: base.bundleDir,
      labels: base.labels,
      startup_timeout: 120,
      ...extra,
    },
    { onProgress: progressLog().onProgress },
  );
}
