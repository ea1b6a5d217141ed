import { randomBytes } from "node:crypto";

const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

function base36(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  // 252 = 7 * 36: rejecting bytes above it keeps the alphabet uniform.
  for (let i = 0; out.length < length; i++) {
    const b = i < bytes.length ? (bytes[i] as number) : (randomBytes(1)[0] as number);
    if (b < 252) out += BASE36[b % 36];
  }
  return out;
}

/** `sdt-` + 8 lowercase base36, as in the API examples (`sdt-dibk4rra`). */
export const newToolId = (): string => `sdt-${base36(8)}`;
/** 40 lowercase base36, the newest documented instance-ID format. */
export const newInstanceId = (): string => base36(40);
/** `sit_` + base64url(32 random bytes). */
export const newAccessToken = (): string => `sit_${randomBytes(32).toString("base64url")}`;
/** 64 hex, as in the `TrafficToken` example. */
export const newTrafficToken = (): string => randomBytes(32).toString("hex");
