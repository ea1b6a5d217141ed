/**
 * Where a new sandbox goes, from the store's view of the fleet: a docker sandbox goes to the host that
 * `chooseHost` picks from each host's live sandboxes (store counts, so every replica sees the same load),
 * health and image presence; when no host has room it goes to the overflow deployment (same API, same
 * ids), or nowhere (the caller queues it). Sandboxes of other types are not placed.
 */
import type { DeploymentConfig } from "../deployment/index.js";
import type { Store } from "../store/types.js";
import type { FleetDockerBackend } from "./fleet-backend.js";
import type { FleetHealth } from "./fleet-health.js";
import { chooseHost, fleetRoom, type HostLoad } from "./placement.js";
import { HOLDING_STATES } from "./states.js";

export interface Placement {
  /** The config to start: the request's, or the overflow deployment. */
  config: DeploymentConfig;
  /** The Docker host, or null off the fleet. */
  host: string | null;
}

export interface FleetPlacerOptions {
  store: Store;
  fleet: FleetDockerBackend;
  health: FleetHealth;
  /** Used when every host is full; null: no overflow. */
  overflow: DeploymentConfig | null;
}

export class FleetPlacer {
  constructor(private readonly opts: FleetPlacerOptions) {}

  get overflow(): DeploymentConfig | null {
    return this.opts.overflow;
  }

  /** Each host's load; `image` decides `hasImage` (none: every host counts as having it). */
  async loads(image?: string): Promise<HostLoad[]> {
    const { store, fleet, health } = this.opts;
    return Promise.all(
      [...fleet.hosts.values()].map(async (h) => {
        const up = health.isUp(h.config.name);
        return {
          name: h.config.name,
          up,
          maxSandboxes: h.config.max_sandboxes,
          active: await store.countSandboxes({ host: h.config.name, states: [...HOLDING_STATES] }),
          hasImage: image === undefined || (up && (await fleet.hasImage(h.config.name, image))),
        };
      }),
    );
  }

  /** Undefined: no room anywhere (no host, no overflow). */
  async place(config: DeploymentConfig): Promise<Placement | undefined> {
    if (config.type !== "docker") return { config, host: null };
    const host = chooseHost(await this.loads(config.image));
    if (host !== undefined) return { config, host };
    if (this.opts.overflow) return { config: this.opts.overflow, host: null };
    return undefined;
  }

  /** Free slots for docker sandboxes (unbounded with an overflow deployment). */
  async room(): Promise<number> {
    if (this.opts.overflow) return Number.POSITIVE_INFINITY;
    return fleetRoom(await this.loads());
  }
}
