/**
 * The one record of a run ({@link RunSummary}): what it trained on, how,
 * and how it ended. `summary.json` is this record; `report.html` is rendered
 * from it plus the epoch rows and the top-loss gallery (`run_report.ts`),
 * also mid-run, when the record says `"running"`.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { ClassificationReport, Evaluation } from "../evaluate/evaluate.ts";
import type { TtaResult } from "../evaluate/tta.ts";
import type { StopReason } from "../train/fit.ts";
import type { EarlyStoppingRecord } from "../train/early_stopping.ts";
import type { BestCheckpointRecord } from "../train/best_checkpoint.ts";
import type { LearningRateRecord } from "../train/stages.ts";
import type { MetricsRow } from "../train/fit.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { baseDisplayName } from "../model/bases.ts";
import type { FrozenInt8Cost, ShippingRecord } from "./shipping.ts";
import { type ConfigChange, configChangesFromDefaults } from "./config_diff.ts";
import {
  type CountedImages,
  type ReportData,
  reportData,
} from "./report_input.ts";

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

/** `summary.json`: the record of one run. */
export interface RunSummary {
  /** Run name (`name`). */
  name: string;
  /** The run folder. */
  dir: string;
  /** The model in one line, e.g. "MobileNetV2 α 1, 160×160, frozen base, weights imagenet" (the base as `baseDisplayName` names it). */
  model: string;
  /** Config keys that differ from the defaults. */
  configChanges: ConfigChange[];
  /** Backend TF.js ran on. */
  backend: string;
  /** WebGPU adapter description, when one was probed. */
  adapter: string | null;
  /** Why this backend was chosen. */
  backendReason: string;
  /** WASM threads, when the backend is wasm. */
  threads: number | null;
  /** Class names in label order. */
  classNames: string[];
  /**
   * Images used per split, files skipped as unreadable, and files the
   * listing left out (junk by kind, other files by extension; `data.*`).
   */
  images: {
    train: number;
    validation: number;
    skipped: number;
    ignored?: {
      junk: Record<string, number>;
      other: Record<string, number>;
    };
  };
  /** Where the images came from, counts per split and class, and every skipped file with its reason. */
  data: ReportData;
  /** Epochs planned over all stages. */
  totalEpochs: number;
  /** Epochs completed. */
  epochs: number;
  /**
   * Why training ended ("completed", "interrupted", "non-finite-loss", …);
   * "running" only in the record of a run still training (the mid-run
   * report), never in `summary.json`.
   */
  stopReason: StopReason | "running";
  /** Details of the stop, when not completed. */
  stopDetail?: string;
  /** Last epoch's metrics. */
  final: MetricsRow | null;
  /** Epoch with the best `val_accuracy` (ties: lower `val_loss`). */
  best: MetricsRow | null;
  /**
   * Feature caching: used at all, and whether features came from the disk
   * cache; `shards`, per set, the shard count and the shards merged from the
   * cache or computed here, when the features were merged from
   * `prepare --shard` entries.
   */
  featureCache: {
    used: boolean;
    reused: boolean;
    reason: string;
    shards?: Record<
      string,
      { count: number; merged: number[]; computed: number[] }
    >;
  };
  /** What ran the frozen base (null when the whole model trained on images). */
  frozenEngine: { engine: string; id: string; reason: string } | null;
  /**
   * What ran the fine-tuning steps (`engine.train`: ONNX Runtime's training
   * graph or TF.js) and why; null when no fine-tuning stage ran (or yet).
   */
  trainEngine?: { engine: string; id: string; reason: string } | null;
  /** Early stopping per stage where it was on: when and why it stopped. */
  earlyStopping: (EarlyStoppingRecord & { stage: string })[];
  /** The best-model checkpoint (`output.saveBest`), when on. */
  bestCheckpoint: BestCheckpointRecord | null;
  /** Each stage's learning-rate schedule and ReduceLROnPlateau reductions (empty while running). */
  learningRate: LearningRateRecord[];
  /** Confusion matrix and per-class precision/recall/F1 on validation data. */
  evaluation: { matrix: number[][]; report: ClassificationReport } | null;
  /** Validation loss and count of the evaluation, when there is one. */
  evaluationLoss?: { loss: number; count: number } | null;
  /**
   * Test-time augmentation (`train.tta`): accuracy and loss of the views'
   * mean and of the plain images (then `evaluation` is the mean's); null
   * when off or there is no evaluation.
   */
  tta?: TtaResult | null;
  /**
   * The quantized model variants (`output.quantize`) with their measured
   * size, agreement with float32, max |Δp| and accuracy; null when none.
   */
  shipping?: ShippingRecord | null;
  /**
   * `engine.frozenInt8`: the validation predictions on int8 features
   * against the same classifier in float32 (agreement, max |Δp|, both
   * accuracies); absent when off.
   */
  frozenInt8Cost?: FrozenInt8Cost | null;
  /** Wall seconds per step (all 0 while running). */
  seconds: StepSeconds;
}

/** What a run produced, for {@link summarize}. */
export interface RunFacts {
  /** The backend selection. */
  backend: {
    backend: string;
    adapter: string | null;
    reason: string;
    threads?: number | null;
  };
  /** The prepared data (class names, labelled sets with their skipped files, source). */
  data: {
    classNames: string[];
    train: CountedImages;
    validation: CountedImages;
    source?: { zipPath: string | null };
    dataset?: {
      ignored?: {
        junk: Record<string, number>;
        other: Record<string, number>;
      };
      labels?: ReportData["labels"];
    };
  };
  /** The training inputs (feature caching); absent before they are made. */
  inputs?: Pick<RunSummary, "featureCache" | "frozenEngine">;
  /** How training stopped, with the callbacks' records; absent: still running. */
  stop?: {
    stopReason: StopReason;
    detail?: string;
    earlyStopping: RunSummary["earlyStopping"];
    bestCheckpoint: RunSummary["bestCheckpoint"];
    learningRate?: RunSummary["learningRate"];
    trainEngine?: RunSummary["trainEngine"];
  };
  /** The validation evaluation, if any. */
  evaluation?: Evaluation | null;
  /** Test-time augmentation's comparison, when `train.tta` is on. */
  tta?: TtaResult | null;
  /** The quantized variants, once written. */
  shipping?: ShippingRecord | null;
  /** The cost of `engine.frozenInt8`, once measured. */
  frozenInt8Cost?: FrozenInt8Cost | null;
  /** Every finished epoch. */
  rows: readonly MetricsRow[];
  /** The run folder. */
  dir: string;
  /** Wall seconds per step; absent while running. */
  seconds?: StepSeconds;
}

/**
 * Builds the record of a run from what it produced: the final one for
 * `summary.json` once `facts.stop` is known, else the record of a run still
 * training (`stopReason: "running"`).
 */
export function summarize(
  config: Config,
  facts: RunFacts,
): RunSummary {
  const { data, stop, rows } = facts;
  const [h, w] = config.data.imageSize;
  const evaluation = facts.evaluation ?? null;
  return {
    name: config.name,
    dir: facts.dir,
    model: `${baseDisplayName(config.model)}, ${h}×${w}, ${
      config.model.trainable ? "trainable" : "frozen"
    } base${
      config.fineTune.enabled
        ? `, fine-tuned from layer ${config.fineTune.fromLayer}`
        : ""
    }, weights ${config.model.weights ?? "random"}`,
    configChanges: configChangesFromDefaults(config),
    backend: facts.backend.backend,
    adapter: facts.backend.adapter,
    backendReason: facts.backend.reason,
    threads: facts.backend.threads ?? null,
    classNames: data.classNames,
    images: {
      train: data.train.count,
      validation: data.validation.count,
      skipped: data.train.skipped.length + data.validation.skipped.length,
      ...(data.dataset?.ignored ? { ignored: data.dataset.ignored } : {}),
    },
    data: {
      ...reportData(
        data.classNames,
        { train: data.train, validation: data.validation },
        data.source?.zipPath ?? config.data.path ?? config.data.url,
      ),
      ...(data.dataset?.labels ? { labels: data.dataset.labels } : {}),
    },
    totalEpochs: config.train.epochs +
      (config.fineTune.enabled ? config.fineTune.epochs : 0),
    epochs: rows.length,
    stopReason: stop?.stopReason ?? "running",
    ...(stop?.detail ? { stopDetail: stop.detail } : {}),
    final: rows.at(-1) ?? null,
    best: bestRow(rows),
    earlyStopping: stop?.earlyStopping ?? [],
    bestCheckpoint: stop?.bestCheckpoint ?? null,
    learningRate: stop?.learningRate ?? [],
    featureCache: facts.inputs?.featureCache ??
      { used: false, reused: false, reason: "not planned yet" },
    frozenEngine: facts.inputs?.frozenEngine ?? null,
    trainEngine: stop?.trainEngine ?? null,
    evaluation: evaluation &&
      { matrix: evaluation.matrix, report: evaluation.report },
    evaluationLoss: evaluation &&
      { loss: evaluation.loss, count: evaluation.count },
    tta: facts.tta ?? null,
    ...(facts.shipping ? { shipping: facts.shipping } : {}),
    ...(facts.frozenInt8Cost ? { frozenInt8Cost: facts.frozenInt8Cost } : {}),
    seconds: facts.seconds ?? {
      fetch: 0,
      unzip: 0,
      decode: 0,
      build: 0,
      features: 0,
      train: 0,
      evaluate: 0,
      save: 0,
      total: 0,
    },
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
