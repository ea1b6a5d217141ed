/**
 * Training rows as a parquet file that pyarrow, HF `datasets` and verl read back with the shape the rows had:
 * lists stay lists, objects with fixed keys stay structs, and objects keyed by file path (`repo_content`,
 * `repo_files`) become `list<struct{path, content|source}>`, so an empty repository is an empty list rather
 * than a struct of every other row's file names set to null (what inferring a struct from maps gives).
 *
 * The schema is inferred over all rows: strings, integers (int64), other numbers (double), booleans, lists
 * and structs (the union of the keys seen; a key missing in a row reads back as null). A field whose values
 * differ in kind between rows (a string here, an object there) is stored as a JSON string. A field that is
 * null in every row is a string column of nulls; one that is `{}` in every row is left out (parquet has no
 * empty group).
 */
import { parquetWriteFile } from "hyparquet-writer";

/** Objects keyed by a path, stored as a list of `{path, <value>}` in path order. */
export const PATH_KEYED_FIELDS: Readonly<Record<string, string>> = {
  repo_content: "content",
  repo_files: "source",
};

type ParquetType =
  | { kind: "null" }
  | { kind: "string" }
  | { kind: "int64" }
  | { kind: "double" }
  | { kind: "boolean" }
  | { kind: "json" }
  | { kind: "list"; element: ParquetType }
  | { kind: "struct"; fields: Map<string, ParquetType> };

interface SchemaElement {
  name: string;
  type?: "BYTE_ARRAY" | "INT64" | "DOUBLE" | "BOOLEAN";
  converted_type?: "UTF8" | "LIST";
  repetition_type?: "OPTIONAL" | "REPEATED";
  num_children?: number;
}

const NULL: ParquetType = { kind: "null" };
const JSON_TYPE: ParquetType = { kind: "json" };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{a: "x"}` -> `[{path: "a", content: "x"}]` for the path-keyed fields, at any depth. */
export function pathKeyedToLists(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => pathKeyedToLists(v));
  if (!isPlainObject(value)) return value;
  const valueName = key === undefined ? undefined : PATH_KEYED_FIELDS[key];
  if (valueName !== undefined) {
    return Object.keys(value)
      .sort()
      .map((path) => ({ path, [valueName]: value[path] }));
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pathKeyedToLists(v, k)]));
}

function typeOf(v: unknown): ParquetType {
  if (v === null || v === undefined) return NULL;
  if (typeof v === "string") return { kind: "string" };
  if (typeof v === "boolean") return { kind: "boolean" };
  if (typeof v === "number") return Number.isSafeInteger(v) ? { kind: "int64" } : { kind: "double" };
  if (Array.isArray(v)) return { kind: "list", element: v.map(typeOf).reduce(merge, NULL) };
  if (isPlainObject(v)) {
    const fields = new Map<string, ParquetType>();
    for (const [k, child] of Object.entries(v)) if (child !== undefined) fields.set(k, typeOf(child));
    return { kind: "struct", fields };
  }
  return JSON_TYPE;
}

/** The type that holds values of both `a` and `b`; different kinds meet at a JSON string. */
function merge(a: ParquetType, b: ParquetType): ParquetType {
  if (a.kind === "null") return b;
  if (b.kind === "null") return a;
  if (a.kind === "list" && b.kind === "list") return { kind: "list", element: merge(a.element, b.element) };
  if (a.kind === "struct" && b.kind === "struct") {
    const fields = new Map(a.fields);
    for (const [k, t] of b.fields) fields.set(k, merge(fields.get(k) ?? NULL, t));
    return { kind: "struct", fields };
  }
  if (a.kind === b.kind) return a;
  if ((a.kind === "int64" && b.kind === "double") || (a.kind === "double" && b.kind === "int64")) {
    return { kind: "double" };
  }
  return JSON_TYPE;
}

/** Drops struct fields (and structs) with no fields left: parquet cannot store an empty group. */
function prune(t: ParquetType): ParquetType | undefined {
  if (t.kind === "list") {
    const element = prune(t.element);
    return element === undefined ? { kind: "list", element: { kind: "json" } } : { kind: "list", element };
  }
  if (t.kind !== "struct") return t;
  const fields = new Map<string, ParquetType>();
  for (const [k, child] of t.fields) {
    const p = prune(child);
    if (p !== undefined) fields.set(k, p);
  }
  return fields.size === 0 ? undefined : { kind: "struct", fields };
}

function schemaOf(name: string, t: ParquetType): SchemaElement[] {
  const optional = "OPTIONAL" as const;
  switch (t.kind) {
    case "null":
    case "string":
    case "json":
      return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: optional }];
    case "int64":
      return [{ name, type: "INT64", repetition_type: optional }];
    case "double":
      return [{ name, type: "DOUBLE", repetition_type: optional }];
    case "boolean":
      return [{ name, type: "BOOLEAN", repetition_type: optional }];
    case "list":
      // The standard three-level list (what pyarrow writes), so every reader sees `list<element>`.
      return [
        { name, repetition_type: optional, converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        ...schemaOf("element", t.element),
      ];
    case "struct":
      return [
        { name, repetition_type: optional, num_children: t.fields.size },
        ...[...t.fields].flatMap(([k, child]) => schemaOf(k, child)),
      ];
  }
}

/** `value` shaped for its column: JSON strings where the type is mixed, bigint for int64, every struct key. */
function conform(value: unknown, t: ParquetType): unknown {
  if (value === null || value === undefined) return null;
  switch (t.kind) {
    case "json":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "int64":
      return BigInt(value as number);
    case "list":
      return (value as unknown[]).map((v) => conform(v, t.element));
    case "struct": {
      const obj = value as Record<string, unknown>;
      return Object.fromEntries([...t.fields].map(([k, child]) => [k, conform(obj[k], child)]));
    }
    default:
      return value;
  }
}

/** Writes `rows` (objects with the same top-level keys) to `path` as one parquet file. */
export function writeParquetRows(path: string, rows: ReadonlyArray<Record<string, unknown>>): void {
  const prepared = rows.map((r) => pathKeyedToLists(r) as Record<string, unknown>);
  const columns = new Map<string, ParquetType>();
  for (const row of prepared) {
    for (const [k, v] of Object.entries(row)) columns.set(k, merge(columns.get(k) ?? NULL, typeOf(v)));
  }
  const kept: Array<[string, ParquetType]> = [];
  for (const [name, t] of columns) {
    const p = prune(t);
    if (p !== undefined) kept.push([name, p]);
  }
  const schema: SchemaElement[] = [
    { name: "root", num_children: kept.length },
    ...kept.flatMap(([name, t]) => schemaOf(name, t)),
  ];
  parquetWriteFile({
    filename: path,
    columnData: kept.map(([name, t]) => ({ name, data: prepared.map((r) => conform(r[name], t)) })),
    schema,
  });
}

/** JSON-like values of a row read back: int64 (bigint) as number, nested values alike. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Every row of a parquet file as plain objects (hyparquet, loaded only when a parquet file is read). */
export async function readParquetRows(path: string): Promise<Array<Record<string, unknown>>> {
  const { asyncBufferFromFile, parquetReadObjects } = await import("hyparquet");
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path) });
  return rows.map((r) => plain(r) as Record<string, unknown>);
}
