/**
 * A confusion matrix as a standalone SVG heat map that stays readable with
 * many classes.
 *
 * @module
 */

import { scaleLinear } from "../deps/charts.ts";
import { escapeXml, FONT, r2, truncate } from "./_svg.ts";

/** Options for {@link renderConfusionMatrix}. */
export interface ConfusionMatrixOptions {
  /** Title above the matrix (default "Confusion matrix"). */
  title?: string;
  /** Longest class label shown before truncating with "…" (default 24). */
  maxLabelChars?: number;
  /** Size of the square grid in px (default 560); cells are 8–100 px. */
  gridSize?: number;
}

/**
 * Renders a confusion matrix (`matrix[true][predicted]` counts) as a
 * standalone SVG heat map coloured by row-normalised value (recall). Stays
 * readable with many classes: cell size, font size and label length adapt,
 * column labels are slanted, counts are printed only where they fit, and every
 * cell and label carries a `<title>` tooltip with the full names and numbers.
 */
export function renderConfusionMatrix(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  opts: ConfusionMatrixOptions = {},
): string {
  const n = classNames.length;
  if (n === 0) throw new Error("confusion matrix needs at least one class");
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new Error(
      `confusion matrix must be ${n}×${n} to match ${n} class names`,
    );
  }
  const maxChars = opts.maxLabelChars ?? 24;
  const cell = Math.max(
    8,
    Math.min(100, Math.floor((opts.gridSize ?? 560) / n)),
  );
  const fontSize = Math.max(7, Math.min(12, Math.floor(cell * 0.6)));
  const charW = fontSize * 0.6;
  const labels = classNames.map((c) => truncate(c, maxChars));
  const longest = Math.max(...labels.map((l) => l.length));
  const rowLabelW = Math.ceil(longest * charW) + 12;
  const colLabelH = Math.ceil(longest * charW * Math.SQRT1_2) + fontSize + 12;
  const grid = cell * n;
  const titleH = 40;
  const left = 36 + rowLabelW;
  const top = titleH + 8;
  const legendW = 90;
  const width = left + grid + 24 + legendW;
  const height = top + grid + colLabelH + 36;

  const rowSums = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const frac = (i: number, j: number) =>
    rowSums[i] > 0 ? matrix[i][j] / rowSums[i] : 0;
  const color = scaleLinear<string>().domain([0, 1]).range([
    "#f7fbff",
    "#08306b",
  ]);
  const maxCount = Math.max(...matrix.flat());
  const countFont = Math.max(7, Math.min(18, Math.floor(cell * 0.28)));
  const countW = String(maxCount).length * countFont * 0.6;
  const showCounts = cell >= 16 && countW <= cell - 4;

  const out: string[] = [];
  const title = opts.title ?? "Confusion matrix";
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="${fontSize}">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text class="chart-title" x="${
      r2(left + grid / 2)
    }" y="26" text-anchor="middle" ` +
      `font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  );
  out.push(`<g class="cells">`);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const f = frac(i, j);
      const cx = left + j * cell;
      const cy = top + i * cell;
      const tip = `True: ${classNames[i]}, Predicted: ${classNames[j]}: ` +
        `${matrix[i][j]} (${(f * 100).toFixed(1)}% of ${classNames[i]})`;
      out.push(
        `<rect class="cell" data-row="${i}" data-col="${j}" data-count="${
          matrix[i][j]
        }" ` +
          `x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${
            color(f)
          }" ` +
          `stroke="#ffffff" stroke-width="${cell >= 12 ? 1 : 0.5}">` +
          `<title>${escapeXml(tip)}</title></rect>`,
      );
      if (showCounts) {
        out.push(
          `<text class="count" x="${r2(cx + cell / 2)}" y="${
            r2(cy + cell / 2)
          }" dy="0.35em" ` +
            `text-anchor="middle" font-size="${countFont}" ` +
            `fill="${f > 0.5 ? "#ffffff" : "#1a1a1a"}">${matrix[i][j]}</text>`,
        );
      }
    }
  }
  out.push(`</g>`);
  out.push(`<g class="row-labels">`);
  labels.forEach((l, i) => {
    out.push(
      `<text class="row-label" x="${left - 6}" y="${
        r2(top + (i + 0.5) * cell)
      }" dy="0.35em" ` +
        `text-anchor="end"><title>${escapeXml(classNames[i])}</title>${
          escapeXml(l)
        }</text>`,
    );
  });
  out.push(`</g>`);
  out.push(`<g class="col-labels">`);
  labels.forEach((l, j) => {
    const cx = r2(left + (j + 0.5) * cell);
    const cy = top + grid + 8;
    out.push(
      `<text class="col-label" transform="translate(${cx},${cy}) rotate(-45)" dy="0.35em" ` +
        `text-anchor="end"><title>${escapeXml(classNames[j])}</title>${
          escapeXml(l)
        }</text>`,
    );
  });
  out.push(`</g>`);
  out.push(
    `<text class="axis-label" x="${r2(left + grid / 2)}" y="${
      height - 10
    }" text-anchor="middle" ` +
      `font-size="12">Predicted label</text>`,
  );
  out.push(
    `<text class="axis-label" transform="translate(16,${
      r2(top + grid / 2)
    }) rotate(-90)" ` +
      `text-anchor="middle" font-size="12">True label</text>`,
  );
  // Colour legend: row-normalised share (recall on the diagonal).
  const lx = left + grid + 24;
  const lh = Math.min(grid, 200);
  out.push(`<g class="color-legend">`);
  out.push(
    `<defs><linearGradient id="cm-gradient" x1="0" y1="1" x2="0" y2="0">` +
      `<stop offset="0" stop-color="${
        color(0)
      }"/><stop offset="1" stop-color="${color(1)}"/>` +
      `</linearGradient></defs>`,
  );
  out.push(
    `<rect x="${lx}" y="${top}" width="14" height="${lh}" fill="url(#cm-gradient)" stroke="#999"/>`,
  );
  for (const t of [0, 0.5, 1]) {
    out.push(
      `<text x="${lx + 18}" y="${
        r2(top + lh - t * lh)
      }" dy="0.35em" font-size="10">` +
        `${t * 100}%</text>`,
    );
  }
  out.push(
    `<text x="${lx}" y="${top + lh + 16}" font-size="10">of true class</text>`,
  );
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
