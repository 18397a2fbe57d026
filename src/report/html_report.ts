/**
 * `report.html`: one self-contained page per run (or per `predict --eval`)
 * that people open in a browser. It is rendered by a pure function from a
 * plain data object ({@link ReportInput}): the training curves and the
 * confusion matrix are the project's own SVG charts inlined, thumbnails are
 * `data:` URIs, the CSS is inline, and a Content-Security-Policy forbids
 * every network request, so the file can be mailed or archived alone.
 *
 * The page renders whatever it is given: mid-run (partial curves, no
 * evaluation yet, refreshes itself every `refreshSeconds`), after training,
 * after a stop, or for an evaluation of a saved model (no curves).
 *
 * This file holds the input types and the page skeleton (head, header, table
 * of contents, footer); the sections are `html_sections.ts`, their shared
 * formatting `html_format.ts`, the CSS `html_style.ts`.
 *
 * @module
 */
import type { ClassificationReport } from "../train/evaluate.ts";
import type { StopReason } from "../train/fit.ts";
import type { EarlyStoppingRecord } from "../train/early_stopping.ts";
import type { BestCheckpointRecord } from "../train/best_checkpoint.ts";
import type { MetricsRow } from "./metrics.ts";
import type { ConfigChange } from "./report_config_diff.ts";
import type { TopLossEntry } from "./report_top_losses.ts";
import {
  configSection,
  curvesSection,
  dataSection,
  epochsSection,
  evaluationSection,
  runtimeSection,
  summarySection,
  topLossSection,
} from "./html_sections.ts";
import { escapeXml as esc } from "./svg.ts";
import { REPORT_CSS } from "./html_style.ts";
import { writeFileAtomic } from "../util/fs.ts";

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
  /** What early stopping did, when it was on. */
  earlyStopping?: EarlyStoppingRecord | null;
  /** What the best-model checkpoint did, when it was on. */
  bestCheckpoint?: BestCheckpointRecord | null;
  /** Evaluation of the final model; null while training runs. */
  evaluation?: ReportEvaluation | null;
  /** Highest-loss examples with thumbnails (see `topLossGallery`). */
  topLosses?: readonly TopLossEntry[] | null;
  /**
   * While `running`, the page reloads itself every this many seconds
   * (default 30; 0 or null: never). Ignored in every other state.
   */
  refreshSeconds?: number | null;
}

const STATE_LABELS: Record<ReportState, string> = {
  running: "running",
  completed: "completed",
  "early-stopped": "stopped early",
  interrupted: "interrupted",
  "non-finite-loss": "stopped: non-finite loss",
  failed: "failed",
};

/**
 * Renders the complete `report.html` text for `input`. Pure: the same input
 * gives the same page.
 */
export function renderReportHtml(input: ReportInput): string {
  const title = `${input.name}: ${
    input.kind === "training" ? "training report" : "evaluation report"
  }`;
  const refresh = input.status.state === "running"
    ? (input.refreshSeconds === undefined ? 30 : input.refreshSeconds ?? 0)
    : 0;
  const sections = [
    summarySection(input),
    input.kind === "training" ? curvesSection(input) : "",
    evaluationSection(input),
    topLossSection(input),
    dataSection(input),
    configSection(input),
    runtimeSection(input),
    input.kind === "training" ? epochsSection(input) : "",
  ].filter((s) => s !== "");
  const toc = [
    ...sections.join("").matchAll(
      /<section id="([a-z-]+)"[^>]*>\s*<h2>([^<]*)<\/h2>/g,
    ),
  ].map(([, id, h]) => `<a href="#${id}">${h}</a>`).join("");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
${
    refresh > 0
      ? `<meta http-equiv="refresh" content="${Math.round(refresh)}">\n`
      : ""
  }<meta name="generator" content="deno-transfer">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${headerHtml(input, title)}
<nav class="toc">${toc}</nav>
${sections.join("\n")}
<footer>Written by deno-transfer${
    input.generatedAt ? ` at ${esc(input.generatedAt)}` : ""
  }. This page is self-contained: no scripts, no network.</footer>
</main>
</body>
</html>
`;
}

/** Renders `input` and writes it to `path` atomically (readers never see half a page). */
export async function writeReportHtml(
  path: string,
  input: ReportInput,
): Promise<void> {
  await writeFileAtomic(path, renderReportHtml(input));
}

/** The page header: title with the status badge, a meta line, the stop detail. */
function headerHtml(input: ReportInput, title: string): string {
  const state = input.status.state;
  const rows = input.rows ?? [];
  const progress = state === "running" && input.kind === "training"
    ? ` — epoch ${rows.length}${
      input.totalEpochs ? ` of ${input.totalEpochs}` : ""
    } finished`
    : "";
  const meta = [
    input.subtitle ? esc(input.subtitle) : "",
    input.dir ? `folder <code>${esc(input.dir)}</code>` : "",
    input.model ? esc(input.model) : "",
  ].filter(Boolean).join(" · ");
  return `<header class="report-header">
<h1>${esc(title)}<span class="status status-${state}">${
    esc(STATE_LABELS[state] + progress)
  }</span></h1>
${meta ? `<p class="meta">${meta}</p>` : ""}
${
    input.status.detail
      ? `<p class="status-detail note">${esc(input.status.detail)}</p>`
      : ""
  }
</header>`;
}
