/**
 * `report.html` of a training run, made from the run's record: its
 * {@link RunSummary} (also mid-run, `"running"`), the epoch rows and the
 * top-loss gallery. Pure, so the page shows exactly what `summary.json`
 * says (see `html_report.ts` for the page itself).
 *
 * @module
 */

import type { MetricsRow } from "../train/fit.ts";
import type { ReportInput } from "./report_input.ts";
import type { RunSummary } from "./summary.ts";
import type { TopLossEntry } from "./top_losses.ts";

/** The page's input for the run that `summary` records. */
export function runReportInput(
  summary: RunSummary,
  rows: readonly MetricsRow[],
  topLosses: readonly TopLossEntry[] | null,
): ReportInput {
  const running = summary.stopReason === "running";
  return {
    kind: "training",
    name: summary.name,
    dir: summary.dir,
    generatedAt: new Date().toISOString(),
    status: {
      state: summary.stopReason,
      detail: summary.stopDetail ?? null,
    },
    totalEpochs: summary.totalEpochs,
    model: summary.model,
    configChanges: summary.configChanges,
    data: summary.data,
    backend: {
      name: summary.backend,
      adapter: summary.adapter,
      reason: summary.backendReason,
      threads: summary.threads,
      fineTuneEngine: summary.trainEngine
        ? `${summary.trainEngine.id} (${summary.trainEngine.reason})`
        : null,
    },
    seconds: running ? null : summary.seconds,
    rows,
    earlyStopping: running ? null : summary.earlyStopping,
    bestCheckpoint: summary.bestCheckpoint,
    evaluation: summary.evaluation && {
      split: "validation",
      matrix: summary.evaluation.matrix,
      report: summary.evaluation.report,
      loss: summary.evaluationLoss?.loss ?? null,
      count: summary.evaluationLoss?.count ?? null,
      tta: summary.tta ?? null,
    },
    topLosses,
    shipping: summary.shipping ?? null,
    frozenInt8Cost: summary.frozenInt8Cost ?? null,
  };
}
