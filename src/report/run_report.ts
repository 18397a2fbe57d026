/**
 * `report.html` of a training run: gathers what the page shows from the
 * run's config, backend, data, epochs and evaluation (see `html_report.ts`
 * for the page itself).
 *
 * @module
 */

import type { Config } from "../config/schema.ts";
import type { ImageSet } from "../data/decode.ts";
import type { Evaluation } from "../train/evaluate.ts";
import type { StopReason } from "../train/fit.ts";
import type { EarlyStoppingRecord } from "../train/early_stopping.ts";
import type { BestCheckpointRecord } from "../train/best_checkpoint.ts";
import type { ReportInput } from "./html_report.ts";
import type { MetricsRow } from "./metrics.ts";
import { configChangesFromDefaults } from "./report_config_diff.ts";
import { reportData, reportState } from "./report_inputs.ts";
import { topLossGallery } from "./report_top_losses.ts";

/** What the run knows once its data and model are ready. */
export interface RunReportContext {
  /** The backend selection. */
  backend: {
    backend: string;
    adapter: string | null;
    reason: string;
    threads: number | null;
  };
  /** The decoded data. */
  data: {
    classNames: string[];
    train: ImageSet;
    validation: ImageSet;
    source: { kind: string; zipPath: string | null };
  };
}

/** How training ended, with what the callbacks recorded (absent: running). */
export interface RunReportEnd {
  /** Why training ended. */
  stopReason: StopReason;
  /** Details of the stop. */
  detail?: string;
  /** Early stopping, per stage where it was on. */
  earlyStopping?: readonly EarlyStoppingRecord[];
  /** The best-model checkpoint, when on. */
  bestCheckpoint?: BestCheckpointRecord | null;
  /** The validation evaluation, when there is one. */
  evaluation: Evaluation | null;
  /** Wall seconds per step. */
  seconds?: Record<string, number>;
}

/** Builds the page's input for `config`'s run in `dir`, mid-run (`end` absent) or final. */
export async function runReportInput(
  config: Config,
  dir: string,
  ctx: RunReportContext,
  rows: readonly MetricsRow[],
  end?: RunReportEnd,
): Promise<ReportInput> {
  const { data, backend } = ctx;
  const [h, w] = config.data.imageSize;
  const evaluation = end?.evaluation ?? null;
  return {
    kind: "training",
    name: config.name,
    dir,
    generatedAt: new Date().toISOString(),
    status: {
      state: reportState(end?.stopReason ?? null),
      detail: end?.detail ?? null,
    },
    totalEpochs: config.train.epochs +
      (config.fineTune.enabled ? config.fineTune.epochs : 0),
    model: `MobileNetV2 α ${config.model.alpha}, ${h}×${w}, ${
      config.model.trainable ? "trainable" : "frozen"
    } base${
      config.fineTune.enabled
        ? `, fine-tuned from layer ${config.fineTune.fromLayer}`
        : ""
    }, weights ${config.model.weights ?? "random"}`,
    configChanges: configChangesFromDefaults(config),
    data: reportData(
      data.classNames,
      { train: data.train, validation: data.validation },
      data.source.zipPath ?? config.data.path ?? config.data.url,
    ),
    backend: {
      name: backend.backend,
      adapter: backend.adapter,
      reason: backend.reason,
      threads: backend.threads,
    },
    seconds: end?.seconds ?? null,
    rows,
    earlyStopping: end?.earlyStopping?.at(-1) ?? null,
    bestCheckpoint: end?.bestCheckpoint ?? null,
    evaluation: evaluation && {
      split: "validation",
      matrix: evaluation.matrix,
      report: evaluation.report,
      loss: evaluation.loss,
      count: evaluation.count,
    },
    topLosses: evaluation && config.output.topLosses > 0
      ? await topLossGallery(
        data.validation,
        evaluation.probabilities,
        data.classNames,
        { count: config.output.topLosses },
      )
      : null,
  };
}
