/**
 * `summary.json`: what a run did and how it ended, in one file.
 *
 * @module
 */

import type { ClassificationReport, Evaluation } from "../train/evaluate.ts";
import type { StopReason } from "../train/fit.ts";
import type { EarlyStoppingRecord } from "../train/early_stopping.ts";
import type { BestCheckpointRecord } from "../train/best_checkpoint.ts";
import type { MetricsRow } from "./metrics.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** Wall seconds of the steps of a run. */
export type StepSeconds = Record<
  | "fetch"
  | "unzip"
  | "decode"
  | "build"
  | "features"
  | "train"
  | "evaluate"
  | "save"
  | "total",
  number
>;

/** `summary.json`. */
export interface RunSummary {
  /** Run name (`name`). */
  name: string;
  /** The run folder. */
  dir: string;
  /** Backend TF.js ran on. */
  backend: string;
  /** WebGPU adapter description, when one was probed. */
  adapter: string | null;
  /** Why this backend was chosen. */
  backendReason: string;
  /** Class names in label order. */
  classNames: string[];
  /** Images used per split, and files skipped as unreadable. */
  images: { train: number; validation: number; skipped: number };
  /** Epochs completed, and why the run ended. */
  epochs: number;
  /** Why training ended ("completed", "interrupted", "non-finite-loss", …). */
  stopReason: StopReason;
  /** Details of the stop, when not completed. */
  stopDetail?: string;
  /** Last epoch's metrics. */
  final: MetricsRow | null;
  /** Epoch with the best `val_accuracy` (ties: lower `val_loss`). */
  best: MetricsRow | null;
  /** Feature caching: used at all, and whether features came from the disk cache. */
  featureCache: { used: boolean; reused: boolean; reason: string };
  /** What ran the frozen base (null when the whole model trained on images). */
  frozenEngine: { engine: string; id: string; reason: string } | null;
  /** Early stopping per stage where it was on: when and why it stopped. */
  earlyStopping: (EarlyStoppingRecord & { stage: string })[];
  /** The best-model checkpoint (`output.saveBest`), when on. */
  bestCheckpoint: BestCheckpointRecord | null;
  /** Confusion matrix and per-class precision/recall/F1 on validation data. */
  evaluation: { matrix: number[][]; report: ClassificationReport } | null;
  /** Wall seconds per step. */
  seconds: StepSeconds;
}

/** What a run produced, for {@link summarize}. */
export interface RunFacts {
  /** The backend selection. */
  backend: { backend: string; adapter: string | null; reason: string };
  /** The prepared data (counts, skipped files, class names). */
  data: {
    classNames: string[];
    train: { count: number; skipped: unknown[] };
    validation: { count: number; skipped: unknown[] };
  };
  /** The training inputs (feature caching). */
  inputs: Pick<RunSummary, "featureCache" | "frozenEngine">;
  /** How training stopped, with the callbacks' records. */
  stop: {
    stopReason: StopReason;
    detail?: string;
    earlyStopping: RunSummary["earlyStopping"];
    bestCheckpoint: RunSummary["bestCheckpoint"];
  };
  /** The validation evaluation, if any. */
  evaluation: Evaluation | null;
  /** Every finished epoch. */
  rows: MetricsRow[];
  /** The run folder. */
  dir: string;
  /** Wall seconds per step. */
  seconds: StepSeconds;
}

/** Builds `summary.json`'s content from what the run produced. */
export function summarize(
  config: { name: string },
  facts: RunFacts,
): RunSummary {
  const { data, stop, rows } = facts;
  return {
    name: config.name,
    dir: facts.dir,
    backend: facts.backend.backend,
    adapter: facts.backend.adapter,
    backendReason: facts.backend.reason,
    classNames: data.classNames,
    images: {
      train: data.train.count,
      validation: data.validation.count,
      skipped: data.train.skipped.length + data.validation.skipped.length,
    },
    epochs: rows.length,
    stopReason: stop.stopReason,
    ...(stop.detail ? { stopDetail: stop.detail } : {}),
    final: rows.at(-1) ?? null,
    best: bestRow(rows),
    earlyStopping: stop.earlyStopping,
    bestCheckpoint: stop.bestCheckpoint,
    featureCache: facts.inputs.featureCache,
    frozenEngine: facts.inputs.frozenEngine,
    evaluation: facts.evaluation &&
      { matrix: facts.evaluation.matrix, report: facts.evaluation.report },
    seconds: facts.seconds,
  };
}

/** The epoch with the best `val_accuracy` (ties: lower `val_loss`); else the last. */
export function bestRow(rows: readonly MetricsRow[]): MetricsRow | null {
  return bestValidationRow(rows) ?? rows.at(-1) ?? null;
}

/**
 * The epoch with the highest finite `val_accuracy` (ties: lower `val_loss`),
 * or null when no epoch was validated.
 */
export function bestValidationRow(
  rows: readonly MetricsRow[],
): MetricsRow | null {
  let best: MetricsRow | null = null;
  for (const r of rows) {
    if (!Number.isFinite(r.val_accuracy)) continue;
    if (
      !best || r.val_accuracy > best.val_accuracy ||
      (r.val_accuracy === best.val_accuracy && r.val_loss < best.val_loss)
    ) best = r;
  }
  return best;
}

/** Writes `summary` as JSON (NaN and ±Infinity as null), atomically. */
export async function writeSummary(
  path: string,
  summary: RunSummary,
): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(summary, jsonNumbers, 2) + "\n");
}

/** JSON has no NaN/Infinity: write them as null. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}
