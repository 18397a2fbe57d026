import assert from "node:assert/strict";
import { hasLrChart, renderLrChart } from "../../src/report/lr_chart.ts";
import { renderReportHtml } from "../../src/report/html_report.ts";
import { oneCycle } from "../../src/train/lr_schedule.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import { all, byClass, parseSvg } from "../_helpers/svg.ts";

const rowsWith = (lrs: number[], stageFrom?: number): MetricsRow[] =>
  lrs.map((lr, i) => ({
    epoch: i + 1,
    loss: 1 / (i + 1),
    accuracy: 0.5,
    val_loss: 1 / (i + 1),
    val_accuracy: 0.5,
    seconds: 1,
    lr,
    ...(stageFrom
      ? { stage: i + 1 >= stageFrom ? "fine_tune" : "frozen" }
      : {}),
  }));

Deno.test("renderLrChart: one point per epoch, log scale for a one-cycle run, descending after the peak", () => {
  // A 10-epoch one-cycle run with 10 steps per epoch: rates at each epoch's end.
  const f = oneCycle({ lrMax: 1e-3, totalSteps: 100 });
  const lrs = Array.from({ length: 10 }, (_, e) => f.lrAt(10 * (e + 1)));
  const root = parseSvg(renderLrChart(rowsWith(lrs)));
  const axis = byClass(root, "g", "y-axis")[0];
  assert.equal(axis.getAttribute("data-scale"), "log");
  const dots = all(root, "circle");
  assert.equal(dots.length, 10);
  const cy = dots.map((d) => Number(d.getAttribute("cy")));
  // SVG y grows downwards: the peak (epoch 3, step 30 > 25) is the highest
  // point after the warmup, then every epoch is lower.
  const peak = cy.indexOf(Math.min(...cy));
  assert.equal(peak, 2);
  for (let i = peak + 1; i < cy.length; i++) assert.ok(cy[i] > cy[i - 1]);
  assert.match(dots[0].textContent ?? "", /epoch 1: lr /);
  // Log ticks at powers of ten only.
  const ticks = byClass(axis, "text", "tick-label").map((t) =>
    Number(t.textContent)
  );
  assert.ok(ticks.length >= 2);
  for (const t of ticks) {
    assert.ok(
      Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9,
      `${t}`,
    );
  }
});

Deno.test("renderLrChart: linear scale for a narrow range or a zero rate, fine-tuning marked", () => {
  const lin = parseSvg(renderLrChart(rowsWith([1e-3, 8e-4, 0], 3)));
  assert.equal(
    byClass(lin, "g", "y-axis")[0].getAttribute("data-scale"),
    "linear",
  );
  const marker = byClass(lin, "g", "fine-tune-marker");
  assert.equal(marker.length, 1);
  assert.equal(marker[0].getAttribute("data-epoch"), "3");
  // Rows without a finite lr (files from before the column) are left out.
  const some = rowsWith([1e-3, NaN, 5e-4]);
  assert.equal(all(parseSvg(renderLrChart(some)), "circle").length, 2);
});

Deno.test("hasLrChart and the report: a chart when the rate changes, one line when constant, nothing for old files", () => {
  assert.equal(hasLrChart(rowsWith([1e-3, 1e-3])), false);
  assert.equal(hasLrChart(rowsWith([1e-3, 1e-4])), true);
  const old = rowsWith([1, 2]).map(({ lr: _, ...r }) => r);
  assert.equal(hasLrChart(old), false);
  const page = (rows: MetricsRow[]) =>
    renderReportHtml({
      kind: "training",
      name: "x",
      status: { state: "running" },
      rows,
    });
  const changing = page(rowsWith([1e-3, 5e-4, 2.5e-4]));
  assert.match(changing, /<div class="figure" id="lr-chart"><svg /);
  assert.match(changing, /<th class="num">lr<\/th>/);
  assert.match(changing, /<td class="num">0\.00025<\/td>/);
  const constant = page(rowsWith([1e-4, 1e-4]));
  assert.doesNotMatch(constant, /id="lr-chart"/);
  assert.match(constant, /Learning rate: 0\.0001 throughout\./);
  const before = page(old);
  assert.doesNotMatch(before, /lr-chart|lr-constant|<th class="num">lr/);
});
