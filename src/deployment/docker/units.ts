/** Docker's size strings ("8g", "512m", "1.5GiB") to bytes, the way the docker CLI reads them (1024-based). */
const UNIT: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?\s*$/i.exec(value);
  if (!m)
    throw new Error(
      `invalid size '${value}' (expected a number with an optional unit b, k, m, g, t or p, e.g. '8g')`,
    );
  const [, num = "", unit = ""] = m;
  return Math.floor(Number(num) * (UNIT[unit.toLowerCase()] ?? 1));
}

/** `--cpus 1.5` → NanoCpus, as the docker CLI sends it. */
export function parseCpus(value: string | number): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid cpus '${value}' (expected a positive number)`);
  return Math.round(n * 1e9);
}
