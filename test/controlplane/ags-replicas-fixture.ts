/**
 * The set-up of the two-replica AGS tests as vitest hooks: an AGS emulator (in this process or its own),
 * a temporary PostgreSQL database and `count` replicas on them (ags-replicas.ts), all removed after the
 * file's tests. Call inside a `describePostgres` block.
 */
import { afterAll, beforeAll } from "vitest";
import type { TempDatabase } from "../store/fixtures.js";
import { tempPostgresDatabase } from "../store/pg-fixtures.js";
import { type AgsReplicas, startAgsReplicas } from "./ags-replicas.js";

/** The actions a sandbox's create + DELETE costs exactly once each (per replica that talks to it, for the token). */
export const PER_SANDBOX_ACTIONS = [
  "StartSandboxInstance",
  "AcquireSandboxInstanceToken",
  "StopSandboxInstance",
] as const;

/** The calls per action of {@link PER_SANDBOX_ACTIONS} in `now`, less those in `before`. */
export function perSandboxCalls(
  now: Record<string, number>,
  before: Record<string, number> = {},
): Record<string, number> {
  return Object.fromEntries(PER_SANDBOX_ACTIONS.map((a) => [a, (now[a] ?? 0) - (before[a] ?? 0)]));
}

interface Emulator {
  endpoint: string;
  domain: string;
  close(): Promise<void>;
}

export function useAgsReplicas<E extends Emulator>(
  startEmulator: () => Promise<E>,
  opts: { count: number; key: string; rateLimit: number },
): { emulator(): E; replicas(): AgsReplicas } {
  let emu: E | undefined;
  let db: TempDatabase | undefined;
  let replicas: AgsReplicas | undefined;

  beforeAll(async () => {
    emu = await startEmulator();
    db = await tempPostgresDatabase();
    replicas = await startAgsReplicas({ ...opts, databaseUrl: db.url, emulator: emu });
  }, 180_000);

  afterAll(async () => {
    await replicas?.remove();
    await emu?.close();
    await db?.drop();
  }, 120_000);

  return { emulator: () => emu as E, replicas: () => replicas as AgsReplicas };
}
