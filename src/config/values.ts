/**
 * Nested configuration trees: typed values from strings, dotted-path access, and the precedence merge.
 */

export type ConfigTree = Record<string, unknown>;

/** Keys that would reach `Object.prototype` when used as a path segment. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export function isPlainObject(v: unknown): v is ConfigTree {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/**
 * Reads a value written on a command line or in an env var. JSON arrays, objects, numbers, booleans, `null`
 * and quoted strings are decoded; anything else (`python:3.11`, `0123`, `1h`) stays the literal string.
 */
export function parseValue(raw: string): unknown {
  const s = raw.trim();
  if (s === "") return raw;
  const first = s[0] as string;
  const looksJson =
    first === "[" ||
    first === "{" ||
    first === '"' ||
    first === "-" ||
    (first >= "0" && first <= "9") ||
    s === "true" ||
    s === "false" ||
    s === "null";
  if (!looksJson) return raw;
  try {
    return JSON.parse(s);
  } catch {
    return raw;
  }
}

export function getPath(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const key of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * Sets `path` in `tree`, creating objects on the way. Returns the prefix that blocked it when an ancestor
 * already holds a non-object value (e.g. `--a=1 --a.b=2`), else `undefined`.
 */
export function setPath(tree: ConfigTree, path: readonly string[], value: unknown): string[] | undefined {
  let node = tree;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = node[key];
    if (next === undefined) {
      const created: ConfigTree = {};
      node[key] = created;
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return path.slice(0, i + 1);
    }
  }
  node[path[path.length - 1] as string] = value;
  return undefined;
}

/** Every leaf path of a tree (arrays and empty objects are leaves). */
export function leafPaths(tree: unknown, prefix: string[] = []): string[][] {
  if (!isPlainObject(tree) || (Object.keys(tree).length === 0 && prefix.length > 0)) return [prefix];
  return Object.entries(tree).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

/**
 * Merges `over` onto `base` (neither is modified): objects merge key by key, anything else is replaced.
 * An object whose `type` changes is replaced whole, because its other keys belong to the old type: a file
 * with `{type: docker, image: x}` and a flag `--instances.deployment.type=local` give `{type: local}`.
 */
export function mergeTrees(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  if (over.type !== undefined && base.type !== undefined && over.type !== base.type) return over;
  const out: ConfigTree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (!isForbiddenKey(k)) out[k] = mergeTrees(base[k], v);
  }
  return out;
}
