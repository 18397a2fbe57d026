/**
 * Per-epoch metrics CSV: `epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr`
 * (plus `stage` when fine-tuning); `lr` is the learning rate at the end of
 * the epoch, as Keras logs `learning_rate` (files written before it lack
 * the column; they still parse). Every row is appended and synced to disk as
 * soon as its epoch ends, so a crash or Ctrl-C keeps every finished epoch.
 *
 * @module
 */

import { writeAll } from "../util/fs.ts";
import type { MetricsRow } from "../train/fit.ts";

/** The numeric columns, in file order. */
export const METRICS_COLUMNS = [
  "epoch",
  "loss",
  "accuracy",
  "val_loss",
  "val_accuracy",
  "seconds",
] as const;

type NumericColumn = typeof METRICS_COLUMNS[number];

/** The learning-rate column, written after the required ones; optional when read. */
export const LR_COLUMN = "lr";

/** The header line for a file with or without the `stage` column. */
export function metricsHeader(withStage = false): string {
  return [...METRICS_COLUMNS, LR_COLUMN, ...(withStage ? ["stage"] : [])].join(
    ",",
  );
}

/** Formats a number for the CSV: shortest round-trip form; NaN/±Infinity by name. */
export function formatMetric(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return String(n);
}

/** Formats one row as a CSV line (no trailing newline). */
export function formatMetricsRow(row: MetricsRow, withStage = false): string {
  const cells = METRICS_COLUMNS.map((c) => formatMetric(row[c]));
  cells.push(formatMetric(row.lr ?? NaN));
  if (withStage) cells.push(csvQuote(row.stage ?? ""));
  return cells.join(",");
}

/** Options for {@link MetricsCsvWriter.create}. */
export interface MetricsCsvOptions {
  /** Add the `stage` column (fine-tuning runs). */
  stage?: boolean;
  /** Replace an existing file instead of failing. */
  overwrite?: boolean;
}

/**
 * Appends one line per epoch to a metrics CSV. Each {@link append} opens the
 * file in append mode, writes the whole line in one call, `fsync`s and
 * closes, so no handle is held between epochs and a killed process loses at
 * most the epoch in progress.
 */
export class MetricsCsvWriter {
  /** Path of the CSV file. */
  readonly path: string;
  /** Whether rows carry the `stage` column. */
  readonly withStage: boolean;
  #rows = 0;

  private constructor(path: string, withStage: boolean) {
    this.path = path;
    this.withStage = withStage;
  }

  /**
   * Creates the file with its header (fails if it exists unless
   * `overwrite`), synced to disk.
   */
  static async create(
    path: string,
    opts: MetricsCsvOptions = {},
  ): Promise<MetricsCsvWriter> {
    const writer = new MetricsCsvWriter(path, opts.stage ?? false);
    const file = await Deno.open(path, {
      write: true,
      create: true,
      createNew: !opts.overwrite,
      truncate: true,
    });
    try {
      await writeAll(file, utf8(metricsHeader(writer.withStage) + "\n"));
      await file.syncData();
    } finally {
      file.close();
    }
    return writer;
  }

  /** Rows appended through this writer. */
  get rows(): number {
    return this.#rows;
  }

  /** Appends one row and flushes it to disk before resolving. */
  async append(row: MetricsRow): Promise<void> {
    if (this.withStage && !row.stage) {
      throw new Error(`metrics row for epoch ${row.epoch} has no stage`);
    }
    const file = await Deno.open(this.path, { append: true });
    try {
      await writeAll(file, utf8(formatMetricsRow(row, this.withStage) + "\n"));
      await file.syncData();
    } finally {
      file.close();
    }
    this.#rows++;
  }
}

/**
 * Parses a metrics CSV. Columns are found by header name (the six numeric
 * columns are required, `lr` and `stage` optional, others ignored); `NaN`, `inf`,
 * `Infinity` and empty cells parse as numbers (empty → NaN). Throws with the
 * line number on a malformed line.
 */
export function parseMetricsCsv(text: string): MetricsRow[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? "").map((h) => h.trim());
  const index = new Map(header.map((h, i) => [h, i]));
  const missing = METRICS_COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new Error(
      `metrics CSV header "${lines[0] ?? ""}" lacks column(s): ${
        missing.join(", ")
      }`,
    );
  }
  const stageAt = index.get("stage");
  const lrAt = index.get(LR_COLUMN);
  const rows: MetricsRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const cells = splitCsvLine(lines[i]);
    if (cells.length !== header.length) {
      throw new Error(
        `metrics CSV line ${
          i + 1
        }: expected ${header.length} cells, got ${cells.length}`,
      );
    }
    const row = {} as MetricsRow;
    for (const c of METRICS_COLUMNS) {
      const v = parseMetric(cells[index.get(c)!]);
      if (v === null) {
        throw new Error(
          `metrics CSV line ${i + 1}: ${c} "${
            cells[index.get(c)!]
          }" is not a number`,
        );
      }
      (row as Record<NumericColumn, number>)[c] = v;
    }
    if (lrAt !== undefined) {
      const lr = parseMetric(cells[lrAt]);
      if (lr === null) {
        throw new Error(
          `metrics CSV line ${i + 1}: lr "${cells[lrAt]}" is not a number`,
        );
      }
      row.lr = lr;
    }
    if (stageAt !== undefined) row.stage = cells[stageAt];
    rows.push(row);
  }
  return rows;
}

/** Reads and parses a metrics CSV file. */
export async function readMetricsCsv(path: string): Promise<MetricsRow[]> {
  return parseMetricsCsv(await Deno.readTextFile(path));
}

function parseMetric(cell: string): number | null {
  const s = cell.trim();
  if (s === "") return NaN;
  const lower = s.toLowerCase();
  if (lower === "nan") return NaN;
  if (lower === "inf" || lower === "+inf" || lower === "infinity") {
    return Infinity;
  }
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  const n = Number(s);
  return Number.isNaN(n) ? null : n;
}

function csvQuote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cur += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ",") {
      cells.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  cells.push(cur);
  return cells;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
