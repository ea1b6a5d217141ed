/** How the emulator renders timestamps: the API examples use `Z`, the real service emits `+08:00`. */
export type TimestampStyle = "Z" | "+08:00";

export function formatTime(ms: number, style: TimestampStyle): string {
  if (style === "Z") return new Date(ms).toISOString();
  const shifted = new Date(ms + 8 * 3600_000).toISOString();
  return `${shifted.slice(0, 19)}+08:00`;
}

/** Token `ExpiresAt` is always ISO with milliseconds and `Z` (API example `2025-09-12T09:00:03.094Z`). */
export const formatTokenExpiry = (ms: number): string => new Date(ms).toISOString();
