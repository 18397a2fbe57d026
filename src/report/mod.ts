/**
 * Report stage: what a run writes. The run folder and its files as training
 * goes (`run_dir.ts`, `run_outputs.ts`), the run's one record (`summary.ts`:
 * `summary.json`), `metrics.csv` (`metrics.ts`), the training chart and the
 * confusion matrix as SVG (`training_chart.ts`, `confusion_chart.ts`), the
 * learning rate per epoch (`lr_chart.ts`),
 * `report.html` (`html_report.ts` from `report_input.ts`, for a run made by
 * `run_report.ts`, with `top_losses.ts` and `config_diff.ts`), class-activation
 * heatmap overlays (`cam_overlay.ts`) and their files (`explain_files.ts`), the LR
 * finder's figure, folder and progress (`lr_find_chart.ts`, `lr_find_outputs.ts`,
 * `lr_find_progress.ts`), the demo page (`demo_page.ts`) and the server for it
 * (`run_server.ts`), `MODEL_CARD.md` (`model_card.ts`), Teachable Machine's
 * `metadata.json` (`tm_metadata.ts`), and progress on the terminal (`progbar.ts`,
 * `progress.ts`).
 *
 * @module
 */

export {
  camOverlay,
  camOverlayDataUri,
  type CamOverlayOptions,
  camOverlayPng,
  DEFAULT_CAM_ALPHA,
  jetColor,
  upsampleBilinear,
} from "./cam_overlay.ts";
export { type ConfigChange, configChangesFromDefaults } from "./config_diff.ts";
export {
  type ConfusionMatrixOptions,
  renderConfusionMatrix,
} from "./confusion_chart.ts";
export {
  DEMO_CSP,
  type DemoPage,
  renderDemoHtml,
  writeDemoPage,
} from "./demo_page.ts";
export { explainOutputPaths, writeExplanationPng } from "./explain_files.ts";
export { renderReportHtml, writeReportHtml } from "./html_report.ts";
export {
  hasLrChart,
  type LrChartOptions,
  type LrChartRow,
  renderLrChart,
} from "./lr_chart.ts";
export {
  formatLr,
  type LrFindChartOptions,
  renderLrFindChart,
  SUGGESTION_COLORS,
} from "./lr_find_chart.ts";
export {
  LR_FIND_JSON_VERSION,
  type LrFindFacts,
  type LrFindOutputs,
  writeLrFindOutputs,
} from "./lr_find_outputs.ts";
export {
  type LrFindProgress,
  lrFindProgress,
  type LrFindProgressOptions,
  lrFindSummaryLines,
} from "./lr_find_progress.ts";
export {
  type MetricsCsvOptions,
  MetricsCsvWriter,
  parseMetricsCsv,
  readMetricsCsv,
} from "./metrics.ts";
export {
  type ModelCardFile,
  renderModelCard,
  wilsonInterval,
} from "./model_card.ts";
export {
  Progbar,
  type ProgbarOptions,
  type ProgressWriter,
} from "./progbar.ts";
export {
  createProgressPrinter,
  type ProgressPrinterOptions,
} from "./progress.ts";
export {
  type CountedImages,
  type ReportBackend,
  type ReportData,
  reportData,
  type ReportEvaluation,
  type ReportInput,
  type ReportSkipped,
  type ReportSplit,
  type ReportState,
} from "./report_input.ts";
export { createRunDir } from "./run_dir.ts";
export { type RunContext, RunOutputs } from "./run_outputs.ts";
export { runReportInput } from "./run_report.ts";
export {
  type FrozenInt8Cost,
  frozenInt8Cost,
  onnxQuantizations,
  type ShipContext,
  type ShippingRecord,
  shipVariants,
  weightQuantizations,
} from "./shipping.ts";
export {
  checkRunFolder,
  MIME_TYPES,
  type RunServer,
  serveRun,
  type ServeRunOptions,
} from "./run_server.ts";
export {
  type RunFacts,
  type RunSummary,
  type StepSeconds,
  summarize,
  writeSummary,
} from "./summary.ts";
export {
  type GalleryCam,
  type GalleryImages,
  type TopLoss,
  type TopLossEntry,
  topLosses,
  topLossGallery,
} from "./top_losses.ts";
export {
  type TeachableMachineMetadata,
  teachableMachineMetadata,
} from "./tm_metadata.ts";
export {
  type ChartRow,
  renderTrainingChart,
  type TrainingChartOptions,
} from "./training_chart.ts";
