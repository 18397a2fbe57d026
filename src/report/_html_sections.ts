/**
 * The sections of `report.html` (`html_report.ts` puts them in order under
 * the header): summary cards, training curves, evaluation, top losses, data,
 * config, backend and time, and the epoch table. Each renders from the
 * page's {@link ReportInput} and returns "" when it has nothing to show.
 *
 * @module
 */

import type { TtaResult } from "../evaluate/tta.ts";
import type { MetricsRow } from "../train/fit.ts";
import type { ReportInput } from "./report_input.ts";
import { renderTrainingChart } from "./training_chart.ts";
import { hasLrChart, renderLrChart } from "./lr_chart.ts";
import { renderConfusionMatrix } from "./confusion_chart.ts";
import { escapeXml as esc } from "./_svg.ts";
import {
  card,
  json,
  num,
  pct,
  placeholder,
  seconds,
  section,
} from "./_html_format.ts";
import { bestValidationRow } from "./summary.ts";

/** Most skipped files listed; the rest are counted. */
const MAX_SKIPPED_ROWS = 500;

function lowestLossRow(rows: readonly MetricsRow[]): MetricsRow | null {
  let best: MetricsRow | null = null;
  for (const r of rows) {
    if (Number.isFinite(r.val_loss) && (!best || r.val_loss < best.val_loss)) {
      best = r;
    }
  }
  return best;
}

/** Summary cards: epochs, best and last accuracy, final evaluation, classes, wall time. */
export function summarySection(input: ReportInput): string {
  const cards: string[] = [];
  const rows = input.rows ?? [];
  const ev = input.evaluation;
  if (input.kind === "training") {
    cards.push(card(
      "Epochs",
      input.totalEpochs
        ? `${rows.length} / ${input.totalEpochs}`
        : `${rows.length}`,
      input.status.state === "running" ? "finished so far" : "trained",
    ));
    const best = bestValidationRow(rows);
    if (best) {
      cards.push(card(
        "Best val accuracy",
        pct(best.val_accuracy),
        `epoch ${best.epoch}`,
      ));
    }
    const low = lowestLossRow(rows);
    if (low) {
      cards.push(
        card("Lowest val loss", num(low.val_loss), `epoch ${low.epoch}`),
      );
    }
    const last = rows.at(-1);
    if (last) {
      cards.push(card(
        "Last epoch",
        pct(last.val_accuracy),
        `val accuracy · train ${pct(last.accuracy)}`,
      ));
    }
  }
  if (ev) {
    const what = ev.split ?? "validation";
    cards.push(card(
      input.kind === "training" ? "Final model accuracy" : "Accuracy",
      pct(ev.report.accuracy),
      `on ${what}`,
    ));
    if (ev.loss !== undefined && ev.loss !== null) {
      cards.push(card("Loss", num(ev.loss), `cross-entropy on ${what}`));
    }
    cards.push(card(
      "Images evaluated",
      String(ev.count ?? ev.report.macroAvg.support),
    ));
  }
  const classes = input.data?.classNames.length ??
    ev?.report.classes.length;
  if (classes !== undefined) cards.push(card("Classes", String(classes)));
  const total = input.seconds?.total;
  if (total !== undefined && Number.isFinite(total)) {
    cards.push(card("Wall time", seconds(total)));
  }
  if (cards.length === 0) return "";
  return section(
    "summary",
    "Summary",
    `<div class="cards">${cards.join("")}</div>`,
  );
}

/** Training curves, with what early stopping and the best-model checkpoint did. */
export function curvesSection(input: ReportInput): string {
  const rows = input.rows ?? [];
  const parts: string[] = [];
  if (rows.length === 0) {
    parts.push(placeholder(
      input.status.state === "running"
        ? "No epoch has finished yet; the curves appear after the first one."
        : "No epoch finished, so there are no curves.",
    ));
  } else {
    parts.push(
      `<div class="figure" id="training-chart">${
        renderTrainingChart(rows)
      }</div>`,
    );
    if (rows.length === 1) {
      parts.push(
        `<p class="muted">One epoch so far: each curve is a single point.</p>`,
      );
    }
    if (hasLrChart(rows)) {
      parts.push(
        `<div class="figure" id="lr-chart">${renderLrChart(rows)}</div>`,
      );
    } else if (rows[0].lr !== undefined && Number.isFinite(rows[0].lr)) {
      parts.push(
        `<p class="muted" id="lr-constant">Learning rate: ${
          rows[0].lr
        } throughout.</p>`,
      );
    }
  }
  const stages = input.earlyStopping ?? [];
  stages.forEach((es, i) => {
    const best = es.bestValue === null
      ? `no finite ${es.monitor} yet`
      : `best ${es.monitor} ${num(es.bestValue)} at epoch ${es.bestEpoch}`;
    const what = es.stopped
      ? `stopped training after epoch ${es.stoppedEpoch} (no improvement for ${es.patience} epoch${
        es.patience === 1 ? "" : "s"
      }); ${best}.`
      : `${
        input.status.state === "running" && i === stages.length - 1
          ? "has not stopped training"
          : "did not stop training"
      }; ${best}.`;
    const restored = es.restoredEpoch !== null
      ? ` The weights from the end of epoch ${es.restoredEpoch} were restored.`
      : "";
    const where = stages.length > 1 && es.stage
      ? ` in the ${esc(es.stage)} stage`
      : "";
    parts.push(
      `<p class="note"${
        i === 0 ? ' id="early-stopping"' : ""
      }>Early stopping${where} on <code>${
        esc(es.monitor)
      }</code> (patience ${es.patience}, min delta ${es.minDelta}${
        es.baseline === null ? "" : `, baseline ${es.baseline}`
      }) ${esc(what + restored)}</p>`,
    );
  });
  const bc = input.bestCheckpoint;
  if (bc) {
    parts.push(
      `<p class="note" id="best-checkpoint">${
        bc.bestEpoch === null
          ? `Best-model checkpoint on <code>${
            esc(bc.monitor)
          }</code>: nothing saved yet.`
          : `Best model by <code>${
            esc(bc.monitor)
          }</code> saved from epoch ${bc.bestEpoch} (${esc(bc.monitor)} ${
            num(bc.bestValue)
          }).`
      }</p>`,
    );
  }
  return section("curves", "Training curves", parts.join("\n"));
}

/** Confusion matrix and per-class precision / recall / F1 of the final model. */
export function evaluationSection(input: ReportInput): string {
  const ev = input.evaluation;
  if (!ev) {
    if (input.kind !== "training") return "";
    const state = input.status.state;
    const why = state === "running"
      ? "The confusion matrix and per-class metrics appear when training ends and the model is evaluated on the validation set."
      : state === "non-finite-loss"
      ? "No evaluation: training stopped on a non-finite loss."
      : "No evaluation (no validation images, or the run ended before it).";
    return section("evaluation", "Evaluation", placeholder(why));
  }
  const names = ev.report.classes.map((c) => c.name);
  const matrix = renderConfusionMatrix(
    ev.matrix.map((r) => [...r]),
    names,
    { title: `Confusion matrix (${ev.split ?? "validation"})` },
  );
  const metricCell = (v: number) =>
    `<td class="num bar"><span class="fill" style="width:${
      (Math.max(0, Math.min(1, v)) * 100).toFixed(1)
    }%"></span>${num(v, 3)}</td>`;
  const rows = ev.report.classes.map((c) =>
    `<tr><td>${esc(c.name)}</td>${metricCell(c.precision)}${
      metricCell(c.recall)
    }${metricCell(c.f1)}<td class="num">${c.support}</td></tr>`
  );
  const total = ev.report.macroAvg.support;
  const avg = (label: string, m: typeof ev.report.macroAvg) =>
    `<tr class="summary-row"><td>${label}</td><td class="num">${
      num(m.precision, 3)
    }</td><td class="num">${num(m.recall, 3)}</td><td class="num">${
      num(m.f1, 3)
    }</td><td class="num">${m.support}</td></tr>`;
  const table = `<table id="class-report">
<thead><tr><th>class</th><th class="num">precision</th><th class="num">recall</th><th class="num">F1</th><th class="num">support</th></tr></thead>
<tbody>
${rows.join("\n")}
<tr class="summary-row"><td>accuracy</td><td></td><td></td><td class="num">${
    num(ev.report.accuracy, 3)
  }</td><td class="num">${total}</td></tr>
${avg("macro avg", ev.report.macroAvg)}
${avg("weighted avg", ev.report.weightedAvg)}
</tbody></table>`;
  const intro = `<p class="muted">Final model on ${
    esc(ev.split ?? "validation")
  } (${
    ev.count ?? total
  } images): rows are true classes, columns predicted classes; colour is the share of the row (recall).</p>${
    ev.tta ? ttaTable(ev.tta) : ""
  }`;
  return section(
    "evaluation",
    "Evaluation",
    `${intro}<div class="two-col"><div class="figure" id="confusion-matrix">${matrix}</div><div>${table}</div></div>`,
  );
}

/** Accuracy and loss with and without test-time augmentation. */
function ttaTable(tta: TtaResult): string {
  const loss = (v: number) => Number.isFinite(v) ? num(v, 4) : "—";
  return `<p>Test-time augmentation <code>${
    esc(tta.mode)
  }</code>: the mean probabilities of ${tta.views.length} views (${
    esc(tta.views.join(", "))
  }); the matrix and table are of the mean.</p>
<table id="tta"><thead><tr><th></th><th class="num">accuracy</th><th class="num">loss</th></tr></thead>
<tbody><tr><td>without TTA</td><td class="num">${
    num(tta.accuracyWithout, 4)
  }</td><td class="num">${loss(tta.lossWithout)}</td></tr>
<tr><td>with TTA</td><td class="num">${
    num(tta.accuracy, 4)
  }</td><td class="num">${loss(tta.loss)}</td></tr></tbody></table>`;
}

/** Gallery of the highest-loss images with their thumbnails. */
export function topLossSection(input: ReportInput): string {
  const top = input.topLosses;
  if (!top) {
    if (input.kind === "training" && input.status.state === "running") {
      return section(
        "top-losses",
        "Top losses",
        placeholder(
          "The validation images with the highest loss are shown when training ends.",
        ),
      );
    }
    return "";
  }
  if (top.length === 0) {
    return section("top-losses", "Top losses", placeholder("No images."));
  }
  const figures = top.map((t, i) => {
    const wrong = t.predictedClass !== t.trueClass;
    const file = t.path.split(/[\\/]/).at(-1) ?? t.path;
    const alt = `${file}: true ${t.trueClass}, predicted ${t.predictedClass} (${
      pct(t.probability)
    })`;
    const img =
      t.image && /^data:image\/(jpeg|png|gif|webp);base64,/.test(t.image)
        ? `<img src="${esc(t.image)}" alt="${esc(alt)}" title="${esc(t.path)}">`
        : `<div class="missing">no image</div>`;
    const cam = (uri: string, cls: string, what: string) =>
      /^data:image\/png;base64,/.test(uri)
        ? `<figure class="cam"><img class="cam" src="${esc(uri)}" alt="${
          esc(`${file}: heatmap of the ${what} class ${cls}`)
        }" title="${esc(`CAM of ${what} class ${cls}`)}"><figcaption>${
          esc(what)
        }: ${esc(cls)}</figcaption></figure>`
        : "";
    const cams = t.heatmaps
      ? `<div class="cams">${cam(t.heatmaps.trueClass, t.trueClass, "true")}${
        cam(t.heatmaps.predictedClass, t.predictedClass, "predicted")
      }</div>`
      : "";
    return `<figure class="loss" data-rank="${i + 1}">${img}${cams}<figcaption>
<div>true: <b>${esc(t.trueClass)}</b></div>
<div class="${wrong ? "wrong" : "right"}">predicted: ${esc(t.predictedClass)} ${
      pct(t.probability)
    }</div>
<div>p(true) ${num(t.trueProbability, 3)} · loss ${num(t.loss, 3)}</div>
<div class="file mono" title="${esc(t.path)}">${esc(file)}</div>
</figcaption></figure>`;
  });
  const split = input.evaluation?.split ?? "validation";
  return section(
    "top-losses",
    "Top losses",
    `<p class="muted">The ${top.length} ${
      esc(split)
    } images with the highest loss (cross-entropy of the true class), highest first.${
      top.some((t) => t.heatmaps)
        ? " Under each, class-activation heatmaps (CAM, equal to Grad-CAM for this GAP + Dense head; jet colormap, red = most evidence) for the true and the predicted class."
        : ""
    }</p>
<div class="gallery">${figures.join("\n")}</div>`,
  );
}

/** Data source, classes, counts per split and the skipped files. */
export function dataSection(input: ReportInput): string {
  const d = input.data;
  if (!d) return "";
  const parts: string[] = [];
  if (d.source) parts.push(`<p>Source: <code>${esc(d.source)}</code></p>`);
  if (d.labels) {
    parts.push(
      `<p id="data-labels">Labels: <code>${
        esc(d.labels.csv)
      }</code> (${d.labels.rows} rows, SHA-256 <code>${
        esc(d.labels.sha256.slice(0, 12))
      }…</code>; split ${
        d.labels.split === "column"
          ? "from its split column"
          : "by data.validationSplit"
      })</p>`,
    );
  }
  const withPerClass = d.splits.some((s) => s.perClass);
  const head = `<tr><th>split</th><th class="num">images</th>${
    withPerClass
      ? d.classNames.map((c) => `<th class="num">${esc(c)}</th>`).join("")
      : ""
  }</tr>`;
  const body = d.splits.map((s) =>
    `<tr><td>${esc(s.name)}</td><td class="num">${s.images}</td>${
      withPerClass
        ? d.classNames.map((_, i) =>
          `<td class="num">${s.perClass?.[i] ?? "—"}</td>`
        ).join("")
        : ""
    }</tr>`
  ).join("\n");
  parts.push(
    `<p>${d.classNames.length} classes: ${
      d.classNames.map((c) => `<code>${esc(c)}</code>`).join(", ")
    }</p>`,
  );
  parts.push(
    `<div class="figure"><table id="data-counts"><thead>${head}</thead><tbody>${body}</tbody></table></div>`,
  );
  if (d.skipped.length === 0) {
    parts.push(`<p class="muted" id="skipped">No files were skipped.</p>`);
  } else {
    const shown = d.skipped.slice(0, MAX_SKIPPED_ROWS);
    const withSplit = shown.some((s) => s.split);
    const rows = shown.map((s) =>
      `<tr>${
        withSplit ? `<td>${esc(s.split ?? "")}</td>` : ""
      }<td class="mono">${esc(s.path)}</td><td>${esc(s.reason)}</td></tr>`
    ).join("\n");
    const more = d.skipped.length - shown.length;
    parts.push(
      `<details id="skipped"${d.skipped.length <= 10 ? " open" : ""}>
<summary>${d.skipped.length} file${
        d.skipped.length === 1 ? "" : "s"
      } skipped as unreadable</summary>
<table><thead><tr>${
        withSplit ? "<th>split</th>" : ""
      }<th>file</th><th>why</th></tr></thead><tbody>
${rows}
</tbody></table>${
        more > 0
          ? `<p class="muted">… and ${more} more (see the run log).</p>`
          : ""
      }
</details>`,
    );
  }
  return section("data", "Data", parts.join("\n"));
}

/** Config keys that differ from the defaults. */
export function configSection(input: ReportInput): string {
  const changes = input.configChanges;
  if (!changes) return "";
  if (changes.length === 0) {
    return section(
      "config",
      "Config",
      `<p id="config-diff">The run used the default config (see <code>config.json</code> in the run folder).</p>`,
    );
  }
  const rows = changes.map((c) =>
    `<tr><td class="mono">${esc(c.path)}</td><td class="mono">${
      esc(json(c.value))
    }</td><td class="mono muted">${esc(json(c.default))}</td></tr>`
  ).join("\n");
  return section(
    "config",
    "Config",
    `<p class="muted">Keys that differ from the defaults (the full config is <code>config.json</code> in the run folder).</p>
<table id="config-diff"><thead><tr><th>key</th><th>value</th><th>default</th></tr></thead><tbody>
${rows}
</tbody></table>`,
  );
}

/** Backend (and why) and wall time per stage. */
export function runtimeSection(input: ReportInput): string {
  const parts: string[] = [];
  const b = input.backend;
  if (b) {
    const rows = [
      ["Backend", b.name],
      ...(b.threads ? [["Threads", String(b.threads)]] : []),
      ...(b.adapter ? [["Adapter", b.adapter]] : []),
      ...(b.reason ? [["Why", b.reason]] : []),
      ...(b.fineTuneEngine ? [["Fine-tuning engine", b.fineTuneEngine]] : []),
    ];
    parts.push(
      `<table id="backend"><tbody>${
        rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
          .join("")
      }</tbody></table>`,
    );
  }
  const s = input.seconds;
  if (s) {
    const stages = Object.entries(s).filter(([k, v]) =>
      k !== "total" && Number.isFinite(v)
    );
    const total = Number.isFinite(s.total)
      ? s.total
      : stages.reduce((a, [, v]) => a + v, 0);
    const max = Math.max(0, ...stages.map(([, v]) => v));
    const rows = stages.map(([k, v]) =>
      `<tr><td>${
        esc(k)
      }</td><td class="num bar"><span class="fill" style="width:${
        max > 0 ? ((v / max) * 100).toFixed(1) : "0"
      }%"></span>${esc(seconds(v))}</td><td class="num">${
        total > 0 ? ((v / total) * 100).toFixed(0) + " %" : ""
      }</td></tr>`
    ).join("\n");
    parts.push(`<h3>Time per stage</h3>
<table id="timing"><thead><tr><th>stage</th><th class="num">time</th><th class="num">share</th></tr></thead><tbody>
${rows}
<tr class="summary-row"><td>total</td><td class="num">${
      esc(seconds(total))
    }</td><td></td></tr>
</tbody></table>`);
  }
  if (parts.length === 0) return "";
  return section("runtime", "Backend and time", parts.join("\n"));
}

/** Table of every epoch, as in `metrics.csv`, the best highlighted. */
export function epochsSection(input: ReportInput): string {
  const rows = input.rows ?? [];
  if (rows.length === 0) return "";
  const withStage = rows.some((r) => r.stage);
  const withLr = rows.some((r) => r.lr !== undefined);
  const best = bestValidationRow(rows);
  const body = rows.map((r) =>
    `<tr${r === best ? ` class="best"` : ""}><td class="num">${r.epoch}</td>${
      withStage ? `<td>${esc(r.stage ?? "")}</td>` : ""
    }<td class="num">${num(r.loss)}</td><td class="num">${
      num(r.accuracy)
    }</td><td class="num">${num(r.val_loss)}</td><td class="num">${
      num(r.val_accuracy)
    }</td><td class="num">${esc(seconds(r.seconds))}</td>${
      withLr ? `<td class="num">${r.lr ?? ""}</td>` : ""
    }</tr>`
  ).join("\n");
  return section(
    "epochs",
    "Epochs",
    `<details${rows.length <= 30 ? " open" : ""}><summary>${rows.length} epoch${
      rows.length === 1 ? "" : "s"
    } (as in <code>metrics.csv</code>; the best by validation accuracy is highlighted)</summary>
<table id="epoch-table"><thead><tr><th class="num">epoch</th>${
      withStage ? "<th>stage</th>" : ""
    }<th class="num">loss</th><th class="num">accuracy</th><th class="num">val_loss</th><th class="num">val_accuracy</th><th class="num">time</th>${
      withLr ? '<th class="num">lr</th>' : ""
    }</tr></thead><tbody>
${body}
</tbody></table></details>`,
  );
}
