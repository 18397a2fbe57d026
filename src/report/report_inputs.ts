/**
 * Small adapters from what a run already holds to the report's input types:
 * per-split image counts (per class, from the labels) with the skipped
 * files, and the page state from a `fitLoop` stop reason.
 *
 * @module
 */

import type { StopReason } from "../train/fit.ts";
import type { ReportData, ReportSkipped, ReportState } from "./html_report.ts";

/** The parts of a decoded image set the data section needs (an `ImageSet` fits). */
export interface CountedImages {
  /** Images kept. */
  count: number;
  /** Class index per image. */
  labels: ArrayLike<number>;
  /** Files skipped as unreadable, with the reason. */
  skipped: readonly { path: string; reason: string }[];
}

/**
 * The data section: per-split counts (and per class) and every skipped file
 * tagged with its split, in the order the splits are given.
 */
export function reportData(
  classNames: readonly string[],
  splits: Readonly<Record<string, CountedImages>>,
  source: string | null = null,
): ReportData {
  const skipped: ReportSkipped[] = [];
  const out = Object.entries(splits).map(([name, set]) => {
    const perClass = classNames.map(() => 0);
    for (let i = 0; i < set.count; i++) {
      const label = set.labels[i];
      if (perClass[label] === undefined) {
        throw new RangeError(
          `${name} label ${label} (image ${i}) is not a class index in [0, ${classNames.length})`,
        );
      }
      perClass[label]++;
    }
    for (const s of set.skipped) skipped.push({ ...s, split: name });
    return { name, images: set.count, perClass };
  });
  return { source, classNames: [...classNames], splits: out, skipped };
}

/** The page state for a finished `fitLoop` (null: still training). */
export function reportState(stopReason: StopReason | null): ReportState {
  return stopReason ?? "running";
}
