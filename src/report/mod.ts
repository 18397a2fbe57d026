/**
 * Report stage: what a run writes — the run folder and its files
 * (run_dir.ts, run_outputs.ts), metrics.csv (metrics.ts), the training chart
 * and confusion matrix as SVG (training_chart.ts, confusion_chart.ts,
 * svg.ts), summary.json (summary.ts), and progress on the terminal
 * (progbar.ts, progress.ts).
 *
 * @module
 */

export * from "./run_dir.ts";
export * from "./run_outputs.ts";
export * from "./metrics.ts";
export * from "./training_chart.ts";
export * from "./confusion_chart.ts";
export * from "./svg.ts";
export * from "./summary.ts";
export * from "./progbar.ts";
export * from "./progress.ts";
export * from "./run_report.ts";
export * from "./html_report.ts";
export * from "./report_inputs.ts";
export * from "./report_top_losses.ts";
export * from "./report_thumbnails.ts";
export * from "./report_config_diff.ts";
