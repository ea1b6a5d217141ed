/**
 * Prometheus metrics (prom-client, one registry per server): sandboxes by state and backend (read from the
 * store at scrape time, so every replica reports the shared truth), start duration by backend, API requests
 * by route and status, backend errors by code, reaper actions, and the process's default metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SandboxEvents } from "../../controlplane/index.js";
import { SANDBOX_STATES, type Store } from "../../store/types.js";

export interface ControlMetrics {
  registry: Registry;
  events: SandboxEvents;
  request(route: string, method: string, status: number): void;
}

export function createControlMetrics(store: Store, backends: readonly string[]): ControlMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "swerex_serve_" });
  new Gauge({
    name: "swerex_sandboxes",
    help: "Sandboxes in the store, by state and backend",
    labelNames: ["state", "backend"],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(
        backends.flatMap((backend) =>
          SANDBOX_STATES.map(async (state) => ({
            backend,
            state,
            n: await store.countSandboxes({ backend, states: [state] }),
          })),
        ),
      );
      for (const c of counts) this.set({ state: c.state, backend: c.backend }, c.n);
    },
  });
  const startSeconds = new Histogram({
    name: "swerex_sandbox_start_duration_seconds",
    help: "Time from create to running, by backend",
    labelNames: ["backend"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const requests = new Counter({
    name: "swerex_api_requests_total",
    help: "API requests by route, method and status",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const backendErrors = new Counter({
    name: "swerex_backend_errors_total",
    help: "Backend failures (start, stop, pause) by backend and error class",
    labelNames: ["backend", "code"],
    registers: [registry],
  });
  const reaper = new Counter({
    name: "swerex_reaper_actions_total",
    help: "Reaper actions: expired (lease ran out, stopped), retried_stop, stop_failed",
    labelNames: ["action"],
    registers: [registry],
  });
  return {
    registry,
    events: {
      started: (backend, seconds) => startSeconds.observe({ backend }, seconds),
      backendError: (backend, code) => backendErrors.inc({ backend, code }),
      reaped: (action) => reaper.inc({ action }),
    },
    request: (route, method, status) => requests.inc({ route, method, status: String(status) }),
  };
}
