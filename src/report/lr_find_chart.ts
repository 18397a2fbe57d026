/**
 * The LR finder's figure as standalone SVG, like fastai's `plot_lr_find`:
 * the smoothed loss against the learning rate on a log axis, without the
 * last 5 iterations (fastai's `skip_end`, where the divergence would squash
 * the rest), the window the suggestions were computed on shaded, and a
 * marker for each suggestion at the point fastai marks (for `minimum`, the
 * lowest point; its suggestion is a tenth of that lr). Scales, ticks and
 * the path come from d3-scale / d3-shape.
 *
 * @module
 */

import { d3line, scaleLinear, scaleLog } from "../deps/charts.ts";
import type { LrFindRecord, LrSuggestions } from "../train/lr_find.ts";
import { escapeXml, FONT, r2 } from "./_svg.ts";

/** Options of {@link renderLrFindChart}. */
export interface LrFindChartOptions {
  /** Title above the plot (default "Learning rate finder"). */
  title?: string;
  /** SVG width in px (default 720). */
  width?: number;
  /** Height of the plot area in px (default 320). */
  plotHeight?: number;
  /** Iterations left off the end, as fastai's `skip_end` (default 5). */
  skipEnd?: number;
}

/** Marker colours of the suggestions (matplotlib's next colours, as fastai). */
export const SUGGESTION_COLORS = {
  valley: "#ff7f0e",
  minimum: "#2ca02c",
  steep: "#d62728",
} as const;

/** A learning rate in short exponent form: `1.74e-3`. */
export function formatLr(lr: number): string {
  return lr.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
}

/**
 * Renders the sweep: the smoothed-loss curve (finite points only), a log
 * x axis with a tick per decade, the suggestion window, the three markers
 * and a legend with the suggested learning rates.
 */
export function renderLrFindChart(
  records: readonly LrFindRecord[],
  suggestions: LrSuggestions,
  opts: LrFindChartOptions = {},
): string {
  const width = opts.width ?? 720;
  const plotH = opts.plotHeight ?? 320;
  const skip = opts.skipEnd ?? 5;
  const title = opts.title ?? "Learning rate finder";
  const margin = { left: 72, right: 24, top: 72, bottom: 56 };
  const height = margin.top + plotH + margin.bottom;
  const left = margin.left;
  const right = width - margin.right;
  const top = margin.top;
  const bottom = top + plotH;
  const shown = records.slice(0, Math.max(1, records.length - skip))
    .filter((r) => Number.isFinite(r.smoothLoss));
  const marks = (["valley", "minimum", "steep"] as const)
    .map((name) => ({ name, s: suggestions[name] }))
    .filter((m) => m.s !== null);

  const lrs = records.map((r) => r.lr);
  const lo = lrs.length ? Math.min(...lrs) : 1e-7;
  const hi = lrs.length ? Math.max(...lrs) : 10;
  const x = scaleLog().domain(lo < hi ? [lo, hi] : [lo / 10, lo * 10])
    .range([left, right]);
  const losses = [
    ...shown.map((r) => r.smoothLoss),
    ...marks.map((m) => m.s!.point.loss),
  ].filter(Number.isFinite);
  const yLo = losses.length ? Math.min(...losses) : 0;
  const yHi = losses.length ? Math.max(...losses) : 1;
  const y = scaleLinear()
    .domain(yLo < yHi ? [yLo, yHi] : [yLo - 0.5, yHi + 0.5])
    .nice(6)
    .range([bottom, top]);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text class="chart-title" x="${
      r2(width / 2)
    }" y="24" text-anchor="middle" font-size="16" font-weight="bold">${
      escapeXml(title)
    }</text>`,
  );

  // The suggestion window, behind everything else.
  const { start, end } = suggestions.window;
  if (end > start) {
    const x0 = x(records[start].lr);
    const x1 = x(records[end - 1].lr);
    out.push(
      `<rect class="suggestion-window" data-start="${start}" data-end="${end}" x="${
        r2(x0)
      }" y="${top}" width="${
        r2(Math.max(1, x1 - x0))
      }" height="${plotH}" fill="#f2f2f2"/>`,
    );
  }

  // Legend: one entry per suggestion, with its learning rate.
  out.push(`<g class="legend">`);
  let lx = left;
  const ly = 50;
  out.push(
    `<g class="legend-item" data-series="loss"><line x1="${lx}" y1="${ly}" x2="${
      lx + 24
    }" y2="${ly}" stroke="#1f77b4" stroke-width="2"/><text x="${lx + 30}" y="${
      ly + 4
    }">smoothed loss</text></g>`,
  );
  lx += 150;
  for (const { name, s } of marks) {
    const label = `${name}: ${formatLr(s!.lr)}`;
    out.push(
      `<g class="legend-item" data-suggestion="${name}"><circle cx="${
        lx + 6
      }" cy="${ly}" r="5" fill="${SUGGESTION_COLORS[name]}"/><text x="${
        lx + 16
      }" y="${ly + 4}">${escapeXml(label)}</text></g>`,
    );
    lx += 16 + label.length * 7 + 20;
  }
  out.push(`</g>`);

  // Grid and y axis.
  out.push(`<g class="axis y-axis">`);
  const yFormat = y.tickFormat(6);
  for (const t of y.ticks(6)) {
    const ty = r2(y(t));
    out.push(
      `<line class="grid" x1="${left}" y1="${ty}" x2="${right}" y2="${ty}" stroke="#e6e6e6"/>` +
        `<line class="tick" x1="${
          left - 5
        }" y1="${ty}" x2="${left}" y2="${ty}" stroke="#333"/>` +
        `<text class="tick-label" x="${
          left - 8
        }" y="${ty}" dy="0.32em" text-anchor="end">${
          escapeXml(yFormat(t))
        }</text>`,
    );
  }
  out.push(
    `<line class="domain" x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>` +
      `<text class="axis-label" transform="translate(${left - 52},${
        r2((top + bottom) / 2)
      }) rotate(-90)" text-anchor="middle">Loss (smoothed)</text>`,
  );
  out.push(`</g>`);

  // X axis: one tick per decade.
  out.push(`<g class="axis x-axis">`);
  const [d0, d1] = x.domain();
  for (
    let e = Math.ceil(Math.log10(d0));
    e <= Math.floor(Math.log10(d1));
    e++
  ) {
    const tx = r2(x(10 ** e));
    out.push(
      `<line class="tick" x1="${tx}" y1="${bottom}" x2="${tx}" y2="${
        bottom + 5
      }" stroke="#333"/>` +
        `<text class="tick-label" x="${tx}" y="${
          bottom + 18
        }" text-anchor="middle">1e${e}</text>`,
    );
  }
  out.push(
    `<line class="domain" x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>` +
      `<text class="axis-label" x="${r2((left + right) / 2)}" y="${
        bottom + 40
      }" text-anchor="middle">Learning rate (log scale)</text>`,
  );
  out.push(`</g>`);

  const line = d3line<[number, number]>().digits(2);
  const d = line(shown.map((r) => [x(r.lr), y(r.smoothLoss)])) ?? "";
  out.push(
    `<g class="series" data-series="loss" data-points="${shown.length}">` +
      `<path class="line" d="${d}" fill="none" stroke="#1f77b4" stroke-width="2"/></g>`,
  );

  for (const { name, s } of marks) {
    const cx = r2(x(s!.point.lr));
    const cy = r2(y(s!.point.loss));
    out.push(
      `<g class="suggestion" data-suggestion="${name}" data-lr="${
        s!.lr
      }" data-index="${s!.index}">` +
        `<circle cx="${cx}" cy="${cy}" r="5" fill="${
          SUGGESTION_COLORS[name]
        }" stroke="#ffffff" stroke-width="1">` +
        `<title>${
          escapeXml(
            `${name}: suggested lr ${formatLr(s!.lr)} (point at lr ${
              formatLr(s!.point.lr)
            }, loss ${s!.point.loss.toFixed(4)})`,
          )
        }</title></circle></g>`,
    );
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
