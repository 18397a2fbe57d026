/**
 * The reference training figure as standalone SVG: accuracy panel above loss
 * panel, training and validation series, and a fine-tuning marker. Scales,
 * ticks and paths come from d3-scale / d3-shape.
 *
 * @module
 */

import { d3line, scaleLinear } from "../deps/charts.ts";
import { escapeXml, FONT, r2 } from "./_svg.ts";

/** The per-epoch values a training chart needs (a `MetricsRow` fits). */
export interface ChartRow {
  /** 1-based epoch number (x axis). */
  epoch: number;
  /** Training loss. */
  loss: number;
  /** Training accuracy. */
  accuracy: number;
  /** Validation loss. */
  val_loss: number;
  /** Validation accuracy. */
  val_accuracy: number;
  /** Training stage; where it changes, fine-tuning is marked. */
  stage?: string;
}

/** Options for {@link renderTrainingChart}. */
export interface TrainingChartOptions {
  /** Overall title above both panels (omitted when empty). */
  title?: string;
  /** SVG width in px (default 720). */
  width?: number;
  /** Height of each panel's plot area in px (default 220). */
  plotHeight?: number;
  /**
   * First fine-tuning epoch: a vertical "Start Fine Tuning" marker is drawn
   * between it and the epoch before. Default: the first row whose `stage`
   * differs from the first row's; `null` disables the marker.
   */
  fineTuneStart?: number | null;
  /** Label of the loss axis (default "Cross entropy"). */
  lossLabel?: string;
}

/** Colours of the training and validation series (matplotlib's first two). */
export const SERIES_COLORS = { training: "#1f77b4", validation: "#ff7f0e" };

interface SeriesSpec {
  key: "accuracy" | "val_accuracy" | "loss" | "val_loss";
  label: string;
  color: string;
}

interface PanelSpec {
  id: "accuracy" | "loss";
  title: string;
  yLabel: string;
  series: [SeriesSpec, SeriesSpec];
}

/**
 * Renders the reference training figure as a standalone SVG document:
 * "Training and Validation Accuracy" above "Training and Validation Loss",
 * each with both series (lines with a dot per epoch), a legend, a grid, axes
 * with ticks and labels, epoch on x, and an optional fine-tuning marker.
 * Non-finite values are left out of lines and domains.
 */
export function renderTrainingChart(
  rows: readonly ChartRow[],
  opts: TrainingChartOptions = {},
): string {
  const width = opts.width ?? 720;
  const plotH = opts.plotHeight ?? 220;
  const margin = { left: 72, right: 24 };
  const titleH = opts.title ? 36 : 0;
  const panelH = 64 + plotH + 48;
  const height = titleH + 2 * panelH + 8;
  const sorted = [...rows].sort((a, b) => a.epoch - b.epoch);
  const fineTuneStart = opts.fineTuneStart === undefined
    ? detectFineTuneStart(sorted)
    : opts.fineTuneStart;
  const marker = fineTuneStart == null ? null : fineTuneStart - 0.5;

  const epochs = sorted.map((r) => r.epoch);
  let xMin = epochs.length ? Math.min(...epochs) : 1;
  let xMax = epochs.length ? Math.max(...epochs) : 1;
  if (marker !== null) {
    xMin = Math.min(xMin, marker);
    xMax = Math.max(xMax, marker);
  }
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  // Pad so that the first and last points do not sit on the frame.
  const pad = Math.max(0.25, (xMax - xMin) * 0.03);
  const x = scaleLinear().domain([xMin - pad, xMax + pad]).range([
    margin.left,
    width - margin.right,
  ]);
  const xTicks = x.ticks(Math.min(10, Math.max(2, xMax - xMin)))
    .filter((t) => Number.isInteger(t) && t >= xMin && t <= xMax);

  const panels: PanelSpec[] = [
    {
      id: "accuracy",
      title: "Training and Validation Accuracy",
      yLabel: "Accuracy",
      series: [
        {
          key: "accuracy",
          label: "Training Accuracy",
          color: SERIES_COLORS.training,
        },
        {
          key: "val_accuracy",
          label: "Validation Accuracy",
          color: SERIES_COLORS.validation,
        },
      ],
    },
    {
      id: "loss",
      title: "Training and Validation Loss",
      yLabel: opts.lossLabel ?? "Cross entropy",
      series: [
        { key: "loss", label: "Training Loss", color: SERIES_COLORS.training },
        {
          key: "val_loss",
          label: "Validation Loss",
          color: SERIES_COLORS.validation,
        },
      ],
    },
  ];

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12">`,
  );
  out.push(`<title>${escapeXml(opts.title || "Training curves")}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (opts.title) {
    out.push(
      `<text class="chart-title" x="${
        r2(width / 2)
      }" y="24" text-anchor="middle" ` +
        `font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`,
    );
  }

  panels.forEach((panel, pi) => {
    const top = titleH + pi * panelH;
    const plotTop = top + 64;
    const plotBottom = plotTop + plotH;
    const values = sorted.flatMap((r) => panel.series.map((s) => r[s.key]))
      .filter(Number.isFinite);
    const y = scaleLinear().range([plotBottom, plotTop]);
    if (panel.id === "accuracy") {
      const lo = values.length ? Math.min(...values) : 0;
      const hi = values.length ? Math.max(...values) : 1;
      y.domain(lo === hi ? [lo - 0.05, hi + 0.05] : [lo, hi]).nice(6);
      const [d0, d1] = y.domain();
      y.domain([Math.max(0, Math.min(d0, lo)), Math.min(1, Math.max(d1, hi))]);
      if (y.domain()[0] === y.domain()[1]) y.domain([0, 1]);
    } else {
      const hi = values.length ? Math.max(...values) : 1;
      const lo = values.length ? Math.min(0, ...values) : 0;
      y.domain([lo, hi > lo ? hi : lo + 1]).nice(6);
    }
    const yTicks = y.ticks(6);
    const yFormat = y.tickFormat(6);
    const left = margin.left;
    const right = width - margin.right;

    out.push(
      `<g class="panel" id="panel-${panel.id}" data-panel="${panel.id}">`,
    );
    out.push(
      `<text class="panel-title" x="${r2((left + right) / 2)}" y="${
        top + 22
      }" ` +
        `text-anchor="middle" font-size="14" font-weight="bold">` +
        `${escapeXml(panel.title)}</text>`,
    );
    // Legend, between title and plot so it never covers data.
    out.push(`<g class="legend">`);
    let lx = left;
    for (const s of panel.series) {
      const ly = top + 44;
      out.push(
        `<g class="legend-item" data-series="${s.key}">` +
          `<line x1="${lx}" y1="${ly}" x2="${
            lx + 24
          }" y2="${ly}" stroke="${s.color}" stroke-width="2"/>` +
          `<circle cx="${lx + 12}" cy="${ly}" r="3" fill="${s.color}"/>` +
          `<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.label)}</text></g>`,
      );
      lx += 30 + s.label.length * 7 + 24;
    }
    out.push(`</g>`);

    // Grid and y axis.
    out.push(`<g class="axis y-axis">`);
    for (const t of yTicks) {
      const ty = r2(y(t));
      out.push(
        `<line class="grid" x1="${left}" y1="${ty}" x2="${right}" y2="${ty}" stroke="#e6e6e6"/>` +
          `<line class="tick" x1="${
            left - 5
          }" y1="${ty}" x2="${left}" y2="${ty}" stroke="#333"/>` +
          `<text class="tick-label" x="${
            left - 8
          }" y="${ty}" dy="0.32em" text-anchor="end">` +
          `${escapeXml(yFormat(t))}</text>`,
      );
    }
    const midY = r2((plotTop + plotBottom) / 2);
    out.push(
      `<line class="domain" x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotBottom}" stroke="#333"/>` +
        `<text class="axis-label" transform="translate(${
          left - 52
        },${midY}) rotate(-90)" ` +
        `text-anchor="middle">${escapeXml(panel.yLabel)}</text>`,
    );
    out.push(`</g>`);

    // X axis.
    out.push(`<g class="axis x-axis">`);
    for (const t of xTicks) {
      const tx = r2(x(t));
      out.push(
        `<line class="tick" x1="${tx}" y1="${plotBottom}" x2="${tx}" y2="${
          plotBottom + 5
        }" stroke="#333"/>` +
          `<text class="tick-label" x="${tx}" y="${
            plotBottom + 18
          }" text-anchor="middle">${t}</text>`,
      );
    }
    out.push(
      `<line class="domain" x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#333"/>` +
        `<text class="axis-label" x="${r2((left + right) / 2)}" y="${
          plotBottom + 38
        }" ` +
        `text-anchor="middle">Epoch</text>`,
    );
    out.push(`</g>`);

    for (const s of panel.series) {
      const pts = sorted.map((r) =>
        [x(r.epoch), y(r[s.key])] as [number, number]
      );
      const line = d3line<[number, number]>()
        .defined((p) => Number.isFinite(p[1]))
        .digits(2);
      const d = line(pts) ?? "";
      out.push(
        `<g class="series" data-series="${s.key}" data-label="${
          escapeXml(s.label)
        }">`,
      );
      out.push(
        `<path class="line" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`,
      );
      for (const [i, p] of pts.entries()) {
        if (!Number.isFinite(p[1])) continue;
        const v = sorted[i][s.key];
        out.push(
          `<circle cx="${r2(p[0])}" cy="${r2(p[1])}" r="3" fill="${s.color}">` +
            `<title>${
              escapeXml(`${s.label}, epoch ${sorted[i].epoch}: ${v}`)
            }</title></circle>`,
        );
      }
      out.push(`</g>`);
    }
    // Drawn last so its label stays legible above the series.
    if (marker !== null) {
      const mx = r2(x(marker));
      out.push(
        `<g class="fine-tune-marker" data-epoch="${fineTuneStart}">` +
          `<line x1="${mx}" y1="${plotTop}" x2="${mx}" y2="${plotBottom}" stroke="#2ca02c" ` +
          `stroke-width="1.5" stroke-dasharray="5 4"/>` +
          `<text x="${r2(x(marker) + 6)}" y="${
            plotTop + 14
          }" fill="#2ca02c" stroke="#ffffff" ` +
          `stroke-width="4" stroke-linejoin="round" paint-order="stroke">Start Fine Tuning</text></g>`,
      );
    }

    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function detectFineTuneStart(rows: readonly ChartRow[]): number | null {
  const first = rows[0]?.stage;
  if (first === undefined) return null;
  const change = rows.find((r) => r.stage !== undefined && r.stage !== first);
  return change ? change.epoch : null;
}
