/**
 * The learning-rate figure as standalone SVG: the rate at the end of each
 * epoch (`metrics.csv`'s `lr`, as Keras logs `learning_rate`), with the
 * fine-tuning marker of the training chart. The y axis is logarithmic when
 * every rate is positive and they span more than a factor of 20 (one-cycle,
 * exponential decay, ReduceLROnPlateau), linear otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderLrChart } from "./lr_chart.ts";
 * const svg = renderLrChart([{ epoch: 1, lr: 1e-3 }, { epoch: 2, lr: 5e-4 }]);
 * assert.match(svg, /^<svg /);
 * assert.equal(svg.match(/<circle /g)?.length, 2);
 * ```
 *
 * @module
 */

import { d3line, scaleLinear, scaleLog } from "../deps/charts.ts";
import { escapeXml, FONT, r2 } from "./_svg.ts";

/** What the chart needs of an epoch (a `MetricsRow` fits). */
export interface LrChartRow {
  /** 1-based epoch (x axis). */
  epoch: number;
  /** Learning rate at the epoch's end; rows without a finite one are left out. */
  lr?: number;
  /** Training stage; where it changes, fine-tuning is marked. */
  stage?: string;
}

/** Options of {@link renderLrChart}. */
export interface LrChartOptions {
  /** SVG width in px (default 720). */
  width?: number;
  /** Plot height in px (default 160). */
  plotHeight?: number;
}

/** Whether `rows` have a learning rate worth a chart: finite, and not one constant. */
export function hasLrChart(rows: readonly LrChartRow[]): boolean {
  const lrs = rows.map((r) => r.lr).filter((v): v is number =>
    v !== undefined && Number.isFinite(v)
  );
  return lrs.length > 0 && lrs.some((v) => v !== lrs[0]);
}

/** Renders the learning rate per epoch as a standalone SVG document. */
export function renderLrChart(
  rows: readonly LrChartRow[],
  opts: LrChartOptions = {},
): string {
  const width = opts.width ?? 720;
  const plotH = opts.plotHeight ?? 160;
  const left = 72;
  const right = width - 24;
  const plotTop = 44;
  const plotBottom = plotTop + plotH;
  const height = plotBottom + 48;
  const pts = [...rows].filter((r) =>
    r.lr !== undefined && Number.isFinite(r.lr)
  )
    .sort((a, b) => a.epoch - b.epoch) as (LrChartRow & { lr: number })[];
  const epochs = pts.map((r) => r.epoch);
  let xMin = epochs.length ? Math.min(...epochs) : 1;
  let xMax = epochs.length ? Math.max(...epochs) : 1;
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const pad = Math.max(0.25, (xMax - xMin) * 0.03);
  const x = scaleLinear().domain([xMin - pad, xMax + pad]).range([left, right]);
  const lrs = pts.map((r) => r.lr);
  const lo = lrs.length ? Math.min(...lrs) : 0;
  const hi = lrs.length ? Math.max(...lrs) : 1;
  const log = lo > 0 && hi / lo > 20;
  const y = log
    ? scaleLog().domain([lo, hi]).range([plotBottom, plotTop]).nice()
    : scaleLinear().domain([Math.min(0, lo), hi > 0 ? hi : 1])
      .range([plotBottom, plotTop]).nice(5);
  const yTicks = log
    ? (y.ticks() as number[]).filter((t) =>
      Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9
    )
    : y.ticks(5);
  const fmt = (v: number) => Number(v.toPrecision(3)).toExponential();
  const xTicks = x.ticks(Math.min(10, Math.max(2, xMax - xMin)))
    .filter((t) => Number.isInteger(t) && t >= xMin && t <= xMax);
  const color = "#2ca02c";
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12">`,
    `<title>Learning rate</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="panel-title" x="${
      r2((left + right) / 2)
    }" y="22" text-anchor="middle" font-size="14" font-weight="bold">Learning rate at the end of each epoch</text>`,
    `<g class="axis y-axis" data-scale="${log ? "log" : "linear"}">`,
  ];
  for (const t of yTicks) {
    const ty = r2(y(t));
    out.push(
      `<line class="grid" x1="${left}" y1="${ty}" x2="${right}" y2="${ty}" stroke="#e6e6e6"/>` +
        `<text class="tick-label" x="${
          left - 8
        }" y="${ty}" dy="0.32em" text-anchor="end">${escapeXml(fmt(t))}</text>`,
    );
  }
  out.push(
    `<line class="domain" x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotBottom}" stroke="#333"/>`,
    `<text class="axis-label" transform="translate(${left - 60},${
      r2((plotTop + plotBottom) / 2)
    }) rotate(-90)" text-anchor="middle">lr${log ? " (log)" : ""}</text>`,
    `</g>`,
    `<g class="axis x-axis">`,
  );
  for (const t of xTicks) {
    out.push(
      `<text class="tick-label" x="${r2(x(t))}" y="${
        plotBottom + 18
      }" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<line class="domain" x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#333"/>`,
    `<text class="axis-label" x="${r2((left + right) / 2)}" y="${
      plotBottom + 38
    }" text-anchor="middle">Epoch</text>`,
    `</g>`,
  );
  const xy = pts.map((r) => [x(r.epoch), y(r.lr)] as [number, number]);
  const d = d3line<[number, number]>().digits(2)(xy) ?? "";
  out.push(
    `<g class="series" data-series="lr"><path class="line" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`,
  );
  pts.forEach((r, i) =>
    out.push(
      `<circle cx="${r2(xy[i][0])}" cy="${
        r2(xy[i][1])
      }" r="3" fill="${color}">` +
        `<title>${escapeXml(`epoch ${r.epoch}: lr ${r.lr}`)}</title></circle>`,
    )
  );
  out.push(`</g>`);
  const first = pts[0]?.stage;
  const ft = pts.find((r) => r.stage !== undefined && r.stage !== first);
  if (ft) {
    const mx = r2(x(ft.epoch - 0.5));
    out.push(
      `<g class="fine-tune-marker" data-epoch="${ft.epoch}"><line x1="${mx}" y1="${plotTop}" x2="${mx}" y2="${plotBottom}" stroke="#7f7f7f" stroke-width="1.5" stroke-dasharray="5 4"/></g>`,
    );
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
