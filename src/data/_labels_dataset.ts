/**
 * Step 3 of the data pipeline with `data.labels`: train and validation
 * lists from a labels CSV (`file,label[,split]`, read by `_labels_csv.ts`)
 * instead of class folders.
 *
 * - The CSV path is resolved in the dataset root unless it is absolute, so a
 *   CSV inside a downloaded zip works; its rows' files are relative to the
 *   dataset root.
 * - Class names are the sorted distinct labels (as Keras sorts class
 *   folders); a label is its index.
 * - The split comes from the CSV's `split` column when it has one (exactly
 *   as given), else from `data.validationSplit` (the seeded per-class split
 *   of class folders).
 * - Row order does not matter: files are listed by class, then path, like
 *   folders, so the same labels give the same sets (and cache keys).
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { deriveSeed, shuffleInPlace } from "../util/rng.ts";
import {
  compareNames,
  DatasetError,
  type DatasetSplits,
  type ImageItem,
  splitPerClass,
} from "./dataset.ts";
import { readLabelsCsv } from "./_labels_csv.ts";

/** Options of {@link loadLabelsDataset}. */
export interface LabelsDatasetOptions {
  /** Dataset root: the rows' files are relative to it. */
  root: string;
  /** `data.labels`: the CSV, absolute or relative to `root`. */
  labels: string;
  /** `data.validationSplit`, used when the CSV has no split column. Default 0.2. */
  validationSplit?: number;
  /** `data.seed`. Default 42. */
  seed?: number;
}

/** The CSV path `labels` names, in `root` unless absolute. */
export function labelsCsvPath(root: string, labels: string): string {
  return isAbsolute(labels) ? labels : resolve(root, labels);
}

/**
 * Lists a dataset from its labels CSV. Errors name the CSV and the line:
 * a missing CSV, a bad header or row, a missing file, fewer than two
 * classes, a class with validation rows but no training row.
 */
export async function loadLabelsDataset(
  opts: LabelsDatasetOptions,
): Promise<DatasetSplits> {
  const { root } = opts;
  const seed = opts.seed ?? 42;
  const csv = labelsCsvPath(root, opts.labels);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(csv);
  } catch (e) {
    throw new DatasetError(
      `data.labels: cannot read ${csv} (${(e as Error).message})${
        isAbsolute(opts.labels)
          ? ""
          : `; a relative data.labels is resolved in the dataset root ${root}`
      }. Expected a CSV with the header file,label[,split].`,
    );
  }
  const rows = await readLabelsCsv(csv, root, new TextDecoder().decode(bytes));
  const classNames = [...new Set(rows.map((r) => r.label))].sort(compareNames);
  if (classNames.length < 2) {
    throw new DatasetError(
      `${csv}: every row has the label "${
        classNames[0]
      }"; expected at least 2 classes (the label column).`,
    );
  }
  const labelOf = new Map(classNames.map((c, i) => [c, i]));
  const byPath = (a: { file: string; label: string }, b: typeof a) =>
    labelOf.get(a.label)! - labelOf.get(b.label)! ||
    compareNames(a.file, b.file);
  const item = (r: { file: string; label: string }): ImageItem => ({
    path: join(root, r.file),
    label: labelOf.get(r.label)!,
    className: r.label,
  });
  const hasSplit = rows[0].split !== null;
  let train: ImageItem[];
  let validation: ImageItem[];
  if (hasSplit) {
    const trained = new Set(
      rows.filter((r) => r.split === "train").map((r) => r.label),
    );
    const orphan = rows.find((r) => !trained.has(r.label));
    if (orphan) {
      throw new DatasetError(
        `${csv}:${orphan.line}: class "${orphan.label}" has no row with the split train; every class needs training images.`,
      );
    }
    const sorted = [...rows].sort(byPath);
    train = sorted.filter((r) => r.split === "train").map(item);
    validation = sorted.filter((r) => r.split === "validation").map(item);
  } else {
    ({ train, validation } = splitPerClass(
      [...rows].sort(byPath).map(item),
      opts.validationSplit ?? 0.2,
      seed,
    ));
  }
  shuffleInPlace(train, deriveSeed(seed, 0));
  return {
    root,
    classNames,
    train,
    validation,
    trainDir: root,
    validationDir: null,
    validationSource: hasSplit ? "csv" : "split",
    ignored: { junk: {}, other: {} },
    labels: {
      csv,
      sha256: sha256Hex(bytes),
      rows: rows.length,
      split: hasSplit ? "column" : "validationSplit",
    },
  };
}
