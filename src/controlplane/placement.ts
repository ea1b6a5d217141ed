/**
 * Placement of Docker sandboxes over a fleet of hosts, as a pure function of what the caller knows about
 * each host (no I/O here, so the rule is tested exactly and every replica decides the same way):
 *
 *   1. only hosts that are up and have room (active sandboxes < max_sandboxes);
 *   2. among those, hosts that already hold the image first (a pull, or no registry at all, costs more
 *      than a busier host);
 *   3. then the least loaded (lowest fraction of max_sandboxes in use; fewer active breaks ties; then
 *      the name, so the choice is stable).
 *
 * No host fits -> undefined: the caller overflows (another backend) or queues.
 */

export interface HostLoad {
  name: string;
  /** False while the health checker cannot reach the engine. */
  up: boolean;
  maxSandboxes: number;
  /** Sandboxes placed on it that hold or will hold a container (starting, running, paused). */
  active: number;
  /** Whether the image asked for is already present on the engine. */
  hasImage: boolean;
}

function hasRoom(h: HostLoad): boolean {
  return h.up && h.active < h.maxSandboxes;
}

/** Negative when `a` is the better place than `b`. */
function compareHosts(a: HostLoad, b: HostLoad): number {
  if (a.hasImage !== b.hasImage) return a.hasImage ? -1 : 1;
  const load = a.active / a.maxSandboxes - b.active / b.maxSandboxes;
  if (load !== 0) return load;
  if (a.active !== b.active) return a.active - b.active;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The host for one more sandbox, or undefined when none has room. */
export function chooseHost(hosts: readonly HostLoad[]): string | undefined {
  let best: HostLoad | undefined;
  for (const h of hosts) if (hasRoom(h) && (!best || compareHosts(h, best) < 0)) best = h;
  return best?.name;
}

/**
 * Hosts for `count` sandboxes at once (a batch), each choice counting the ones before it; undefined when the
 * fleet cannot take all of them (all-or-nothing: the caller places none).
 */
export function placeMany(hosts: readonly HostLoad[], count: number): string[] | undefined {
  const loads = hosts.map((h) => ({ ...h }));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = chooseHost(loads);
    if (name === undefined) return undefined;
    out.push(name);
    const h = loads.find((x) => x.name === name);
    if (h) h.active += 1;
  }
  return out;
}

/** Free slots over the hosts that are up (what admission may hand out). */
export function fleetRoom(hosts: readonly HostLoad[]): number {
  return hosts.reduce((sum, h) => sum + (h.up ? Math.max(0, h.maxSandboxes - h.active) : 0), 0);
}
