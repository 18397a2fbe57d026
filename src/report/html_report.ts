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
 * This file holds the page skeleton (head, header, table of contents,
 * footer); the input types are `report_input.ts`, the sections
 * `_html_sections.ts`, their shared formatting `_html_format.ts`, the CSS
 * `_html_style.ts`.
 *
 * @module
 */
import type { ReportInput, ReportState } from "./report_input.ts";
import {
  configSection,
  curvesSection,
  dataSection,
  epochsSection,
  evaluationSection,
  runtimeSection,
  summarySection,
  topLossSection,
} from "./_html_sections.ts";
import { shippingSection } from "./_html_shipping.ts";
import { escapeXml as esc } from "./_svg.ts";
import { REPORT_CSS } from "./_html_style.ts";
import { writeFileAtomic } from "../util/fs.ts";

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
    shippingSection(input),
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
