/**
 * `report.html`: rendered from a synthetic but realistic input (real SVG
 * charts, real PNG thumbnails of generated photos) and checked as text
 * (self-contained, escaped, each state says what it lacks) and in real
 * headless Chromium (no console errors or requests, charts, matrix and
 * decoded thumbnails present, a screenshot that is not blank).
 *
 * The browser test is skipped, with a message, only when no Chromium binary
 * exists. `WRITE_REPORT_SCREENSHOT=1` also saves the final report's
 * screenshot as `docs/report.png` (the README's picture).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { imagescriptPng } from "../../src/deps/codecs.ts";
import { photo } from "../../fixtures/photos.ts";
import { parseConfig } from "../../src/config/load.ts";
import {
  classificationReport,
  confusionMatrix,
} from "../../src/evaluate/evaluate.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import type { ReportInput } from "../../src/report/report_input.ts";
import {
  renderReportHtml,
  writeReportHtml,
} from "../../src/report/html_report.ts";
import { configChangesFromDefaults } from "../../src/report/config_diff.ts";
import { topLossGallery } from "../../src/report/top_losses.ts";
import {
  findChromium,
  launchChromium,
  type Page,
} from "../_helpers/browser.ts";

const CLASSES = ["cats", "dogs", "rabbits"];

/** 10 frozen + 5 fine-tuning epochs with plausible curves. */
function syntheticRows(count = 15): MetricsRow[] {
  return Array.from({ length: count }, (_, i) => {
    const t = i + 1;
    const ft = t > 10;
    const acc = 0.9 - 0.38 * Math.exp(-t / 3) + (ft ? 0.02 : 0);
    return {
      epoch: t,
      loss: 0.18 + 0.75 * Math.exp(-t / 3) - (ft ? 0.05 : 0),
      accuracy: acc,
      val_loss: 0.2 + 0.6 * Math.exp(-t / 2.6) + 0.01 * Math.sin(t) -
        (ft ? 0.04 : 0),
      val_accuracy: acc + 0.005 + 0.006 * Math.cos(t * 1.7),
      seconds: ft ? 21.4 + 0.3 * Math.sin(t) : 0.8 + 0.05 * Math.cos(t),
      stage: ft ? "fine_tune" : "frozen",
    };
  });
}

/** Validation labels and predictions giving a realistic confusion matrix. */
function syntheticPredictions() {
  // true × predicted counts.
  const counts = [[470, 22, 8], [30, 455, 15], [5, 12, 233]];
  const labels: number[] = [], preds: number[] = [];
  counts.forEach((row, t) =>
    row.forEach((c, p) => {
      for (let i = 0; i < c; i++) {
        labels.push(t);
        preds.push(p);
      }
    })
  );
  return { labels, preds };
}

/** A small decoded "validation set" of generated photos with probabilities. */
function syntheticImages(n = 24, size = 160) {
  const pixels = new Uint8Array(n * size * size * 3);
  const labels = new Int32Array(n);
  const paths: string[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    labels[i] = label;
    const rgba = photo(1000 + i, {
      width: size,
      height: size,
      tint: [60, -60, 0][label],
    });
    for (let p = 0; p < size * size; p++) {
      pixels.set(rgba.subarray(p * 4, p * 4 + 3), (i * size * size + p) * 3);
    }
    paths.push(
      `validation/${CLASSES[label]}/${CLASSES[label]}.${2000 + i}.jpg`,
    );
    // Confidently wrong for some, unsure for others.
    const wrong = (label + 1 + (i % 2)) % 3;
    const q = 0.35 + ((i * 37) % 60) / 100;
    const row = [0, 0, 0];
    row[wrong] = q;
    row[label] = (1 - q) * 0.8;
    row[3 - wrong - label] += 1 - row[wrong] - row[label];
    probs.push(row);
  }
  return { count: n, height: size, width: size, pixels, labels, paths, probs };
}

export async function syntheticInput(
  variant: "final" | "running" | "evaluation",
): Promise<ReportInput> {
  const { labels, preds } = syntheticPredictions();
  const matrix = confusionMatrix(labels, preds, CLASSES.length);
  const report = classificationReport(matrix, CLASSES);
  const images = syntheticImages();
  const topLosses = await topLossGallery(images, images.probs, CLASSES);
  const config = parseConfig({
    name: "pets",
    data: { url: "https://example.org/pets.zip", batchSize: 64 },
    fineTune: { enabled: true, epochs: 5 },
    augment: { flip: "horizontal" },
  });
  const data = {
    source: "https://example.org/pets.zip",
    classNames: CLASSES,
    splits: [
      { name: "train", images: 2500, perClass: [1000, 1000, 500] },
      { name: "validation", images: 1250, perClass: [500, 500, 250] },
    ],
    skipped: [
      {
        path: "train/cats/cat.666.jpg",
        reason: "jpeg: failed to decode (-1)",
        split: "train",
      },
      {
        path: "train/dogs/Thumbs.db",
        reason: "not an image (unknown signature)",
        split: "train",
      },
      {
        path: "validation/rabbits/r.17.png",
        reason: "png: truncated file",
        split: "validation",
      },
    ],
  };
  const backend = {
    name: "wasm",
    threads: 2,
    adapter: null,
    reason:
      "auto: no WebGPU adapter with a real GPU; WASM (SIMD, 2 threads) chosen",
  };
  if (variant === "evaluation") {
    return {
      kind: "evaluation",
      name: "pets",
      subtitle: "model runs/pets-20261128T025130Z/model on ./holdout",
      generatedAt: "2026-11-28T03:10:00Z",
      status: { state: "completed" },
      data: {
        source: "./holdout",
        classNames: CLASSES,
        splits: [{
          name: "evaluated",
          images: 1250,
          perClass: [500, 500, 250],
        }],
        skipped: [],
      },
      backend,
      seconds: { decode: 4.1, evaluate: 9.8, total: 14.2 },
      evaluation: {
        split: "./holdout",
        matrix,
        report,
        loss: 0.2311,
        count: labels.length,
      },
      topLosses,
      model: "MobileNetV2 α 1.0, 160×160",
    };
  }
  const rows = syntheticRows(variant === "running" ? 3 : 15);
  const best = rows.reduce((a, r) => (r.val_loss < a.val_loss ? r : a));
  const base: ReportInput = {
    kind: "training",
    name: "pets",
    dir: "runs/pets-20261128T025130Z",
    generatedAt: "2026-11-28T03:02:11Z",
    status: { state: "completed" },
    totalEpochs: 15,
    model:
      "MobileNetV2 α 1.0, 160×160, frozen base, then fine-tuned from layer 100",
    configChanges: configChangesFromDefaults(config),
    data,
    backend,
    seconds: {
      fetch: 3.2,
      unzip: 1.4,
      decode: 14.9,
      build: 0.03,
      features: 0,
      train: rows.reduce((a, r) => a + r.seconds, 0),
      evaluate: 9.1,
      save: 0.4,
      total: 149.5,
    },
    rows,
    earlyStopping: [{
      monitor: "val_loss",
      mode: "min",
      patience: 3,
      minDelta: 0,
      baseline: null,
      restoreBestWeights: true,
      stopped: false,
      stoppedEpoch: null,
      bestEpoch: best.epoch,
      bestValue: best.val_loss,
      restoredEpoch: best.epoch,
      message:
        `early stopping did not stop training; best val_loss ${best.val_loss} after epoch ${best.epoch}`,
    }],
    evaluation: { matrix, report, loss: 0.2206, count: labels.length },
    topLosses,
  };
  if (variant === "running") {
    return {
      ...base,
      status: { state: "running" },
      seconds: { fetch: 3.2, unzip: 1.4, decode: 14.9, build: 0.03 },
      earlyStopping: null,
      evaluation: null,
      topLosses: null,
      refreshSeconds: 600,
    };
  }
  return base;
}

// ---- as text ----------------------------------------------------------------

function assertSelfContained(html: string) {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(
    html,
    /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">/,
  );
  assert.doesNotMatch(
    html,
    /<script|<link|@import|url\((?!#)|<iframe|<object/i,
  );
  const srcs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  for (const s of srcs) {
    assert.ok(
      s.startsWith("data:image/png;base64,") || /^#[a-z-]+$/.test(s),
      `external reference ${s.slice(0, 60)}`,
    );
  }
}

Deno.test("report html: the final training report has every section, self-contained", async () => {
  const input = await syntheticInput("final");
  const html = renderReportHtml(input);
  assertSelfContained(html);
  for (
    const id of [
      "summary",
      "curves",
      "evaluation",
      "top-losses",
      "data",
      "config",
      "runtime",
      "epochs",
    ]
  ) {
    assert.match(html, new RegExp(`<section id="${id}">`), id);
    assert.match(html, new RegExp(`<a href="#${id}">`), `toc ${id}`);
  }
  assert.equal(renderReportHtml(input), html, "pure: same input, same page");
  assert.equal((html.match(/<svg /g) ?? []).length, 2, "curves and matrix");
  assert.match(html, /class="fine-tune-marker"/);
  assert.equal((html.match(/<img /g) ?? []).length, 16, "16 top losses");
  assert.match(html, /<td class="mono">data\.batchSize<\/td>/);
  assert.doesNotMatch(html, /http-equiv="refresh"/);
  assert.match(html, /3 files skipped as unreadable/);
  assert.match(html, /jpeg: failed to decode \(-1\)/);
  const best = input.rows!.reduce((a, r) => (r.val_loss < a.val_loss ? r : a));
  assert.ok(
    html.includes(
      `did not stop training; best val_loss ${
        best.val_loss.toFixed(4)
      } at epoch ${best.epoch}. The weights from the end of epoch ${best.epoch} were restored.`,
    ),
  );
  // The per-class table: 3 classes + accuracy + 2 averages.
  const table = html.slice(html.indexOf('<table id="class-report">'));
  const body = table.slice(0, table.indexOf("</table>"));
  assert.equal((body.match(/<tr/g) ?? []).length, 1 + 3 + 3);
});

Deno.test("report html: mid-run and evaluation reports say what they lack", async () => {
  const running = renderReportHtml(await syntheticInput("running"));
  assertSelfContained(running);
  assert.match(running, /status-running">running — epoch 3 of 15 finished/);
  assert.equal((running.match(/<svg /g) ?? []).length, 1, "curves only");
  assert.match(
    running,
    /confusion matrix and per-class metrics appear when training ends/,
  );
  assert.match(running, /highest loss are shown when training ends/);
  assert.match(running, /<meta http-equiv="refresh" content="600">/);

  const empty = renderReportHtml({
    kind: "training",
    name: "x",
    status: { state: "running" },
    rows: [],
  });
  assert.match(empty, /No epoch has finished yet/);
  assert.match(
    empty,
    /<meta http-equiv="refresh" content="30">/,
    "default refresh",
  );
  assert.doesNotMatch(empty, /<svg /);

  const failed = renderReportHtml({
    kind: "training",
    name: "x",
    status: {
      state: "non-finite-loss",
      detail: "loss became NaN at epoch 2, batch 5/63",
    },
    rows: syntheticRows(1),
  });
  assert.match(failed, /stopped: non-finite loss/);
  assert.match(failed, /loss became NaN at epoch 2, batch 5\/63/);
  assert.match(failed, /No evaluation: training stopped on a non-finite loss/);
  assert.match(failed, /One epoch so far/);

  const stopped = renderReportHtml({
    kind: "training",
    name: "x",
    status: { state: "early-stopped", detail: "early stopping after epoch 3" },
    rows: syntheticRows(3),
    earlyStopping: [{
      monitor: "val_accuracy",
      mode: "max",
      patience: 1,
      minDelta: 0.01,
      baseline: null,
      restoreBestWeights: false,
      stopped: true,
      stoppedEpoch: 3,
      bestEpoch: 2,
      bestValue: 0.75,
      restoredEpoch: null,
      message: "early stopping after epoch 3",
    }],
    bestCheckpoint: {
      monitor: "val_accuracy",
      bestEpoch: 2,
      bestValue: 0.75,
      saves: 2,
    },
  });
  assert.match(stopped, /status-early-stopped">stopped early</);
  assert.match(
    stopped,
    /\(patience 1, min delta 0\.01\) stopped training after epoch 3 \(no improvement for 1 epoch\); best val_accuracy 0\.7500 at epoch 2\.<\/p>/,
  );
  assert.match(
    stopped,
    /Best model by <code>val_accuracy<\/code> saved from epoch 2 \(val_accuracy 0\.7500\)/,
  );

  const evaluation = renderReportHtml(await syntheticInput("evaluation"));
  assertSelfContained(evaluation);
  assert.doesNotMatch(evaluation, /id="curves"|id="epochs"|fine-tune-marker/);
  assert.equal((evaluation.match(/<svg /g) ?? []).length, 1, "matrix only");
  assert.match(evaluation, /pets: evaluation report/);
  assert.match(evaluation, /Confusion matrix \(\.\/holdout\)/);
  assert.match(evaluation, /No files were skipped/);
});

Deno.test("report html: every piece of text is escaped; non-image URIs are dropped", () => {
  const evil = `<script>alert("x")</script>`;
  const matrix = [[1, 0], [0, 1]];
  const html = renderReportHtml({
    kind: "evaluation",
    name: evil,
    dir: `a"b`,
    status: { state: "failed", detail: evil },
    data: {
      classNames: [evil, "b&c"],
      splits: [{ name: evil, images: 2 }],
      skipped: [{ path: `x"><img src=x>`, reason: evil }],
    },
    evaluation: {
      matrix,
      report: classificationReport(matrix, [evil, "b&c"]),
    },
    topLosses: [{
      path: `"/><script>`,
      trueClass: evil,
      predictedClass: "b&c",
      probability: 0.9,
      trueProbability: 0.1,
      loss: 2.3,
      image: "https://example.org/tracker.png",
      heatmaps: {
        trueClass: "https://example.org/cam.png",
        predictedClass: `data:image/png;base64,AAAA" onerror="x`,
      },
    }],
    configChanges: [{ path: "name", value: evil, default: "cats_vs_dogs" }],
  });
  assert.doesNotMatch(html, /<script/);
  assert.doesNotMatch(html, /<img src=x>/);
  assert.doesNotMatch(html, /example\.org/);
  assert.doesNotMatch(html, /" onerror="/);
  assert.equal((html.match(/<img class="cam"/g) ?? []).length, 1);
  assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  assert.match(html, /b&amp;c/);
  assert.match(html, /<div class="missing">no image<\/div>/);
  assertSelfContained(html);
});

// ---- in a real browser ------------------------------------------------------

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "report_html_test: no Chromium binary found (set CHROMIUM_PATH or " +
      "`apt-get install chromium`); the browser test is skipped.",
  );
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface PageFacts {
  title: string;
  chartRect: Rect | null;
  cells: (Rect & { fill: string })[];
  sections: Record<string, number>;
  chart: { svgs: number; width: number; lines: number[]; marker: boolean };
  matrixCells: number;
  classRows: number;
  images: {
    decoded: boolean;
    w: number;
    h: number;
    rgbSum: number;
    shownWidth: number;
  }[];
  refresh: boolean;
  injected: number;
}

/**
 * Facts about the open page. Each top-loss image is decoded (img.decode()
 * rejects on a broken file; naturalWidth alone comes from the header) and
 * drawn on a canvas to sum its RGB values.
 */
const FACTS = `(async () => {
  const q = (s) => document.querySelector(s);
  const sections = {};
  for (const s of document.querySelectorAll("section")) {
    sections[s.id] = s.getBoundingClientRect().height;
  }
  const chart = q("#training-chart svg");
  const images = [];
  for (const img of document.querySelectorAll("#top-losses img")) {
    let decoded = true;
    try { await img.decode(); } catch { decoded = false; }
    let rgbSum = -1;
    if (decoded) {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      rgbSum = 0;
      for (let k = 0; k < d.length; k += 4) rgbSum += d[k] + d[k + 1] + d[k + 2];
    }
    images.push({
      decoded, w: img.naturalWidth, h: img.naturalHeight, rgbSum,
      shownWidth: img.getBoundingClientRect().width,
    });
  }
  const pageRect = (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height };
  };
  const cells = [...document.querySelectorAll("#confusion-matrix svg rect.cell")]
    .map((c) => ({ ...pageRect(c), fill: getComputedStyle(c).fill }));
  return {
    title: document.title,
    sections,
    chartRect: chart ? pageRect(chart) : null,
    cells,
    chart: {
      svgs: document.querySelectorAll("#training-chart svg").length,
      width: chart ? chart.getBoundingClientRect().width : 0,
      lines: chart
        ? [...chart.querySelectorAll("path.line")].map((p) => p.getTotalLength())
        : [],
      marker: !!(chart && chart.querySelector(".fine-tune-marker")),
    },
    matrixCells: document.querySelectorAll("#confusion-matrix svg rect.cell").length,
    classRows: document.querySelectorAll("#class-report tbody tr").length,
    images,
    refresh: !!q('meta[http-equiv="refresh"]'),
    injected: document.querySelectorAll("script, img[src='x']").length,
  };
})()`;

/** RGB sum of each thumbnail as an independent decoder (ImageScript) sees it. */
async function expectedRgbSums(input: ReportInput): Promise<number[]> {
  const png = await imagescriptPng.init();
  return (input.topLosses ?? []).map((t) => {
    const bytes = Uint8Array.from(
      atob(t.image!.split(",")[1]),
      (c) => c.charCodeAt(0),
    );
    const fb: Uint8Array = png.decode(bytes).framebuffer;
    let sum = 0;
    for (let k = 0; k < fb.length; k += 4) sum += fb[k] + fb[k + 1] + fb[k + 2];
    return sum;
  });
}

function assertQuiet(page: Page, url: string) {
  assert.deepEqual(page.log.consoleErrors, [], "console errors");
  assert.deepEqual(page.log.exceptions, [], "exceptions");
  assert.deepEqual(page.log.logErrors, [], "log errors (CSP, failed loads)");
  const requests = page.log.requests.filter((r) => !r.startsWith("data:"));
  assert.deepEqual(requests, [url], "no request but the page itself");
}

/** A decoded RGBA screenshot. */
interface Shot {
  width: number;
  height: number;
  framebuffer: Uint8Array;
}

/** Distinct colours and the share of non-white pixels of a screenshot. */
function pixelStats(shot: Shot) {
  const rgba = shot.framebuffer;
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    colours.add((rgba[i] << 16) | (rgba[i + 1] << 8) | rgba[i + 2]);
    if (rgba[i] < 245 || rgba[i + 1] < 245 || rgba[i + 2] < 245) nonWhite++;
  }
  return { colours: colours.size, nonWhite: nonWhite / (rgba.length / 4) };
}

/** Pixels within `rect` whose colour is within `tol` (sum of |Δ|) of `hex`. */
function countColour(shot: Shot, rect: Rect, hex: string, tol = 24): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let y = Math.ceil(rect.y); y < rect.y + rect.h; y++) {
    for (let x = Math.ceil(rect.x); x < rect.x + rect.w; x++) {
      const i = (y * shot.width + x) * 4;
      const fb = shot.framebuffer;
      if (
        Math.abs(fb[i] - c[0]) + Math.abs(fb[i + 1] - c[1]) +
            Math.abs(fb[i + 2] - c[2]) <= tol
      ) n++;
    }
  }
  return n;
}

/** The RGB of the screenshot pixel at page position (x, y). */
function pixelAt(shot: Shot, x: number, y: number): number[] {
  const i = (Math.round(y) * shot.width + Math.round(x)) * 4;
  return Array.from(shot.framebuffer.subarray(i, i + 3));
}

Deno.test({
  name:
    "report html: renders in headless Chromium without errors; charts, matrix and thumbnails show",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "report_html_" });
    const browser = await launchChromium(chromium!);
    try {
      const png = await imagescriptPng.init();
      const open = async (variant: "final" | "running" | "evaluation") => {
        const path = join(dir, `${variant}.html`);
        const input = await syntheticInput(variant);
        await writeReportHtml(path, input);
        const url = pathToFileURL(path).href;
        const page = await browser.openPage();
        await page.send("Emulation.setDeviceMetricsOverride", {
          width: 1200,
          height: 900,
          deviceScaleFactor: 1,
          mobile: false,
        });
        await page.goto(url);
        const facts = await page.evaluate<PageFacts>(FACTS);
        return { page, url, facts, input };
      };

      // The final report.
      const final = await open("final");
      assertQuiet(final.page, final.url);
      const f = final.facts;
      assert.equal(f.title, "pets: training report");
      for (const [id, h] of Object.entries(f.sections)) {
        assert.ok(h > 20, `section ${id} has height ${h}`);
      }
      assert.equal(Object.keys(f.sections).length, 8);
      assert.equal(f.chart.svgs, 1);
      assert.ok(f.chart.width > 500, `chart width ${f.chart.width}`);
      assert.equal(f.chart.lines.length, 4);
      assert.ok(f.chart.lines.every((l) => l > 100), `lines ${f.chart.lines}`);
      assert.ok(f.chart.marker, "fine-tune marker");
      assert.equal(f.matrixCells, 9);
      assert.equal(f.classRows, 6);
      assert.equal(f.images.length, 16);
      for (const im of f.images) {
        // decode() also resolves for a truncated file; the pixel sums below
        // tell a real picture from an empty one.
        assert.ok(im.decoded, "the browser decodes every thumbnail");
        assert.ok(im.rgbSum > 0, "thumbnail pixels drawn");
        assert.deepEqual([im.w, im.h, im.shownWidth], [96, 96, 96]);
      }
      // The browser shows the pixels that were encoded (PNG is lossless;
      // tolerance 0.1 % for colour management).
      const expected = await expectedRgbSums(final.input);
      f.images.forEach((im, i) => {
        assert.ok(
          Math.abs(im.rgbSum - expected[i]) <= expected[i] * 1e-3,
          `image ${i}: browser ${im.rgbSum}, decoder ${expected[i]}`,
        );
      });
      assert.equal(f.refresh, false);

      const shot: Shot = png.decode(
        await final.page.screenshot({ width: 1200 }),
      );
      assert.equal(shot.width, 1200);
      assert.ok(shot.height > 1500, `page height ${shot.height}`);
      const stats = pixelStats(shot);
      assert.ok(stats.colours > 500, `${stats.colours} distinct colours`);
      assert.ok(stats.nonWhite > 0.05, `non-white share ${stats.nonWhite}`);
      // Both series are drawn inside the chart, in their colours.
      const chartRect = f.chartRect!;
      for (const hex of ["#1f77b4", "#ff7f0e"]) {
        const n = countColour(shot, chartRect, hex);
        assert.ok(n > 300, `${n} pixels of ${hex} in the chart`);
      }
      // Each matrix cell shows its fill colour (sampled inside its border).
      assert.equal(f.cells.length, 9);
      for (const cell of f.cells) {
        const want = cell.fill.match(/\d+/g)!.map(Number);
        const got = pixelAt(shot, cell.x + 4, cell.y + 4);
        assert.ok(
          got.every((v, k) => Math.abs(v - want[k]) <= 3),
          `cell at ${cell.x},${cell.y}: ${got} vs ${cell.fill}`,
        );
      }
      // A dark (diagonal) and a light cell: the colour scale is visible.
      const lum = (c: { fill: string }) =>
        c.fill.match(/\d+/g)!.map(Number).reduce((a, b) => a + b);
      assert.ok(lum(f.cells[0]) < 300 && lum(f.cells[1]) > 600);
      if (Deno.env.get("WRITE_REPORT_SCREENSHOT") === "1") {
        const top = await final.page.screenshot({
          width: 1200,
          maxHeight: 2150,
        });
        await Deno.writeFile(
          new URL("../../docs/report.png", import.meta.url),
          top,
        );
      }

      // Mid-run: partial curves, no matrix or thumbnails yet.
      const running = await open("running");
      assertQuiet(running.page, running.url);
      assert.equal(running.facts.chart.svgs, 1);
      assert.equal(running.facts.chart.lines.length, 4);
      assert.equal(running.facts.matrixCells, 0);
      assert.equal(running.facts.images.length, 0);
      assert.equal(running.facts.refresh, true);

      // Prediction evaluation: no curves.
      const ev = await open("evaluation");
      assertQuiet(ev.page, ev.url);
      assert.equal(ev.facts.title, "pets: evaluation report");
      assert.equal(ev.facts.chart.svgs, 0);
      assert.equal(ev.facts.matrixCells, 9);
      assert.equal(ev.facts.images.length, 16);
      assert.ok(ev.facts.images.every((i) => i.decoded && i.w === 96));
      assert.equal(ev.facts.injected, 0);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
