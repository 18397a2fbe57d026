/**
 * What `report.html` shows, as plain data ({@link ReportInput}): the page's
 * input types, and {@link reportData}, which counts a decoded split's images
 * per class for the data section. A training run's input is made from its
 * record (`run_report.ts`), an evaluation's by `deno task predict --eval`.
 *
 * @module
 */

import type { FrozenInt8Cost, ShippingRecord } from "./shipping.ts";
import type { TtaResult } from "../evaluate/tta.ts";
import type { ClassificationReport } from "../evaluate/evaluate.ts";
import type { StopReason } from "../train/fit.ts";
import type { EarlyStoppingRecord } from "../train/early_stopping.ts";
import type { BestCheckpointRecord } from "../train/best_checkpoint.ts";
import type { MetricsRow } from "../train/fit.ts";
import type { ConfigChange } from "./config_diff.ts";
import type { TopLossEntry } from "./top_losses.ts";

/**
 * Where the run (or evaluation) stands: training, a `fitLoop` stop reason,
 * or failed.
 */
export type ReportState = "running" | StopReason | "failed";

/** Image counts of one split. */
export interface ReportSplit {
  /** Split name, e.g. "train", "validation", "evaluated". */
  name: string;
  /** Images used. */
  images: number;
  /** Images per class (label order), when known. */
  perClass?: readonly number[] | null;
}

/** A file left out of the data, and why. */
export interface ReportSkipped {
  /** The file. */
  path: string;
  /** Why it was skipped (the decoder's message). */
  reason: string;
  /** Its split, when known. */
  split?: string;
}

/** The data section. */
export interface ReportData {
  /** Where the images came from (URL, zip or folder). */
  source?: string | null;
  /**
   * Where the labels came from when a labels CSV (`data.labels`) gave them:
   * the file, its SHA-256, its rows and where the split came from; absent
   * or null for class folders.
   */
  labels?: {
    csv: string;
    sha256: string;
    rows: number;
    split: "column" | "validationSplit";
  } | null;
  /** Class names in label order. */
  classNames: readonly string[];
  /** Counts per split. */
  splits: readonly ReportSplit[];
  /** Files skipped as unreadable (empty when none). */
  skipped: readonly ReportSkipped[];
}

/** The backend section. */
export interface ReportBackend {
  /** Backend TF.js ran on: "webgpu", "wasm" or "cpu". */
  name: string;
  /** WebGPU adapter description, when one was probed. */
  adapter?: string | null;
  /** Why this backend was chosen. */
  reason?: string | null;
  /** WASM threads, when the backend is wasm. */
  threads?: number | null;
  /** What ran the fine-tuning steps and why, e.g. "onnxruntime-node@1.30.0 (engine.train is onnxruntime)". */
  fineTuneEngine?: string | null;
}

/** Evaluation of the final model (validation set, or `--eval` folder). */
export interface ReportEvaluation {
  /** What was evaluated, e.g. "validation" or a folder (default "validation"). */
  split?: string;
  /** Confusion matrix, rows true and columns predicted. */
  matrix: readonly (readonly number[])[];
  /** Per-class precision/recall/F1 and averages. */
  report: ClassificationReport;
  /** Mean cross-entropy, when computed. */
  loss?: number | null;
  /** Samples evaluated, when known (else the report's total support). */
  count?: number | null;
  /**
   * Test-time augmentation: the matrix and report above are of the views'
   * mean; this compares it with the plain images. Null or absent: off.
   */
  tta?: TtaResult | null;
}

/** Everything `report.html` shows; every section except the header is optional. */
export interface ReportInput {
  /** "training": a run (curves); "evaluation": `predict --eval` (no curves). */
  kind: "training" | "evaluation";
  /** Run name (config `name`), or what was evaluated. */
  name: string;
  /** One line under the title, e.g. the model and folder of an evaluation. */
  subtitle?: string | null;
  /** The run folder (or model folder). */
  dir?: string | null;
  /** When the page was written (ISO 8601), shown in the header. */
  generatedAt?: string | null;
  /** Where the run stands; `detail` explains a stop. */
  status: { state: ReportState; detail?: string | null };
  /** Epochs planned over all stages, for "epoch 3 of 10". */
  totalEpochs?: number | null;
  /** One line describing the model, e.g. "MobileNetV2 α 1.0, 160×160, frozen base". */
  model?: string | null;
  /** Config keys that differ from the defaults (null: section left out). */
  configChanges?: readonly ConfigChange[] | null;
  /** Data counts and skipped files. */
  data?: ReportData | null;
  /** Backend, adapter and why. */
  backend?: ReportBackend | null;
  /** Wall seconds per stage, in display order; a `total` key is the total. */
  seconds?: Readonly<Record<string, number>> | null;
  /** One row per finished epoch, as in `metrics.csv` (`stage` marks fine-tuning). */
  rows?: readonly MetricsRow[] | null;
  /** What early stopping did, per stage where it was on. */
  earlyStopping?: readonly (EarlyStoppingRecord & { stage?: string })[] | null;
  /** What the best-model checkpoint did, when it was on. */
  bestCheckpoint?: BestCheckpointRecord | null;
  /** Evaluation of the final model; null while training runs. */
  evaluation?: ReportEvaluation | null;
  /** The quantized model variants and their measured costs (`shipping.ts`). */
  shipping?: ShippingRecord | null;
  /** What `engine.frozenInt8`'s int8 features cost (`shipping.ts`). */
  frozenInt8Cost?: FrozenInt8Cost | null;
  /** Highest-loss examples with thumbnails (see `topLossGallery`). */
  topLosses?: readonly TopLossEntry[] | null;
  /**
   * While `running`, the page reloads itself every this many seconds
   * (default 30; 0 or null: never). Ignored in every other state.
   */
  refreshSeconds?: number | null;
}

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
