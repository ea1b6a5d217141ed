/**
 * Reads task files: SWE-bench JSONL (or a JSON array, or parquet) in either task format, with errors that name
 * the line (the row, for parquet).
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { readParquetRows } from "../data/parquet.js";
import { parseTask, type SweTask, TaskFormatError } from "./task.js";

interface Row {
  line: number;
  value: unknown;
}

/** Parses task text; `baseDir` anchors relative `repo_dir` paths (the tasks file's folder). */
export function parseTasks(text: string, baseDir: string, source = "tasks"): SweTask[] {
  const trimmed = text.trim();
  const rows: Row[] = [];
  if (trimmed.startsWith("[")) {
    (JSON.parse(trimmed) as unknown[]).forEach((value, i) => {
      rows.push({ line: i + 1, value });
    });
  } else {
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        rows.push({ line: i + 1, value: JSON.parse(line) });
      } catch (err) {
        throw new TaskFormatError(`${source}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    });
  }
  return parseRows(rows, baseDir, source);
}

function parseRows(rows: Row[], baseDir: string, source: string): SweTask[] {
  const seen = new Set<string>();
  return rows.map(({ line, value }) => {
    let task: SweTask;
    try {
      task = parseTask(value);
    } catch (err) {
      throw new TaskFormatError(`${source}:${line}: ${(err as Error).message}`);
    }
    if (seen.has(task.instance_id)) {
      throw new TaskFormatError(
        `${source}:${line}: duplicate instance_id ${JSON.stringify(task.instance_id)}`,
      );
    }
    seen.add(task.instance_id);
    if (task.repo_dir && !isAbsolute(task.repo_dir)) task.repo_dir = resolve(baseDir, task.repo_dir);
    if (task.repo_files) {
      task.repo_files = Object.fromEntries(
        Object.entries(task.repo_files).map(([to, from]) => [to, resolve(baseDir, from)]),
      );
    }
    return task;
  });
}

export async function loadTasks(path: string): Promise<SweTask[]> {
  const baseDir = dirname(resolve(path));
  if (path.endsWith(".parquet")) {
    // A key other rows had and this one did not reads back as null: the same as absent.
    const rows = (await readParquetRows(path)).map((r, i) => ({
      line: i + 1,
      value: Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)),
    }));
    return parseRows(rows, baseDir, path);
  }
  const text = await readFile(path, "utf8");
  return parseTasks(text, baseDir, path);
}

export interface TaskSelection {
  /** Regular expression an `instance_id` must match. */
  filter?: string;
  /** Python-style slice `start:stop` over the (filtered) list. */
  slice?: string;
}

export function selectTasks(tasks: SweTask[], sel: TaskSelection): SweTask[] {
  let out = tasks;
  if (sel.filter) {
    const re = new RegExp(sel.filter);
    out = out.filter((t) => re.test(t.instance_id));
  }
  if (sel.slice) {
    const m = /^(-?\d*):(-?\d*)$/.exec(sel.slice.trim());
    if (!m)
      throw new TaskFormatError(
        `instances.slice must look like "start:stop", got ${JSON.stringify(sel.slice)}`,
      );
    const start = m[1] ? Number(m[1]) : undefined;
    const stop = m[2] ? Number(m[2]) : undefined;
    out = out.slice(start, stop);
  }
  return out;
}
