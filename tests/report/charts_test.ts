import assert from "node:assert/strict";
import {
  type ChartRow,
  renderTrainingChart,
} from "../../src/report/training_chart.ts";
import { renderConfusionMatrix } from "../../src/report/confusion_chart.ts";
import { escapeXml } from "../../src/report/_svg.ts";
import { all, byClass, parseSvg, type XmlElement } from "../_helpers/svg.ts";

const rows = (n: number, stageFrom?: number): ChartRow[] =>
  Array.from({ length: n }, (_, i) => ({
    epoch: i + 1,
    loss: 0.8 / (i + 1),
    accuracy: 0.6 + i * 0.03,
    val_loss: 0.7 / (i + 1) + 0.05,
    val_accuracy: 0.62 + i * 0.025,
    ...(stageFrom
      ? { stage: i + 1 >= stageFrom ? "fine_tune" : "frozen" }
      : {}),
  }));

Deno.test("renderTrainingChart: accuracy panel above loss panel, four series", () => {
  const data = rows(10);
  const svg = renderTrainingChart(data, { title: "Cats & <Dogs>" });
  const root = parseSvg(svg);
  assert.ok(svg.includes("Cats &amp; &lt;Dogs&gt;"));
  const panels = byClass(root, "g", "panel");
  assert.deepEqual(panels.map((p) => p.getAttribute("data-panel")), [
    "accuracy",
    "loss",
  ]);
  const titles = byClass(root, "text", "panel-title").map((t) => t.textContent);
  assert.deepEqual(titles, [
    "Training and Validation Accuracy",
    "Training and Validation Loss",
  ]);
  // Accuracy plot sits above the loss plot.
  const firstY = (p: XmlElement) =>
    Number(byClass(p, "text", "panel-title")[0].getAttribute("y"));
  assert.ok(firstY(panels[0]) < firstY(panels[1]));

  const series = byClass(root, "g", "series");
  assert.deepEqual(series.map((s) => s.getAttribute("data-series")), [
    "accuracy",
    "val_accuracy",
    "loss",
    "val_loss",
  ]);
  for (const s of series) {
    const d = byClass(s, "path", "line")[0].getAttribute("d") ?? "";
    // One move + nine line segments: a point per epoch.
    assert.equal((d.match(/[ML]/g) ?? []).length, 10, d);
    assert.equal(all(s, "circle").length, 10);
  }
  // Training accuracy rises: y (SVG, downwards) of the last point is smaller.
  const acc = all(series[0], "circle").map((c) => Number(c.getAttribute("cy")));
  assert.ok(acc[9] < acc[0]);
  // Loss falls: y grows.
  const loss = all(series[2], "circle").map((c) =>
    Number(c.getAttribute("cy"))
  );
  assert.ok(loss[9] > loss[0]);

  for (const p of panels) {
    const legend = byClass(p, "g", "legend-item").map((l) =>
      all(l, "text")[0].textContent
    );
    assert.equal(legend.length, 2);
    assert.match(legend[0]!, /^Training /);
    assert.match(legend[1]!, /^Validation /);
    const xTicks = byClass(byClass(p, "g", "x-axis")[0], "text", "tick-label")
      .map((t) => Number(t.textContent));
    assert.deepEqual(xTicks, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const yTicks = byClass(byClass(p, "g", "y-axis")[0], "text", "tick-label");
    assert.ok(yTicks.length >= 3);
    const axisLabels = byClass(p, "text", "axis-label").map((t) =>
      t.textContent
    );
    assert.ok(axisLabels.includes("Epoch"));
  }
  assert.equal(byClass(root, "g", "fine-tune-marker").length, 0);
});

Deno.test("renderTrainingChart: fine-tuning marker from the stage column", () => {
  const root = parseSvg(renderTrainingChart(rows(12, 8)));
  const markers = byClass(root, "g", "fine-tune-marker");
  assert.equal(markers.length, 2); // one per panel
  assert.equal(markers[0].getAttribute("data-epoch"), "8");
  assert.equal(all(markers[0], "text")[0].textContent, "Start Fine Tuning");
  // Between the dots of epochs 7 and 8.
  const acc = all(byClass(root, "g", "series")[0], "circle")
    .map((c) => Number(c.getAttribute("cx")));
  const mx = Number(all(markers[0], "line")[0].getAttribute("x1"));
  assert.ok(acc[6] < mx && mx < acc[7]);
  // Explicit option wins; null disables.
  const explicit = parseSvg(
    renderTrainingChart(rows(12), { fineTuneStart: 5 }),
  );
  assert.equal(
    byClass(explicit, "g", "fine-tune-marker")[0].getAttribute("data-epoch"),
    "5",
  );
  const off = parseSvg(
    renderTrainingChart(rows(12, 8), { fineTuneStart: null }),
  );
  assert.equal(byClass(off, "g", "fine-tune-marker").length, 0);
});

Deno.test("renderTrainingChart: one epoch, NaN and Infinity still give valid SVG", () => {
  const one = parseSvg(renderTrainingChart(rows(1)));
  assert.equal(byClass(one, "g", "series").length, 4);
  const data = rows(5);
  data[2].val_loss = NaN;
  data[3].loss = Infinity;
  const root = parseSvg(renderTrainingChart(data));
  const series = byClass(root, "g", "series");
  assert.equal(all(series[3], "circle").length, 4); // val_loss skips the NaN
  assert.equal(all(series[2], "circle").length, 4); // loss skips Infinity
  assert.doesNotMatch(renderTrainingChart(data), /NaN|Infinity"/);
  assert.ok(parseSvg(renderTrainingChart([])));
});

Deno.test("renderConfusionMatrix: cells, counts, escaped labels", () => {
  const names = ["cats", "<dogs & co>"];
  const svg = renderConfusionMatrix([[48, 2], [5, 45]], names);
  const root = parseSvg(svg);
  const cells = byClass(root, "rect", "cell");
  assert.equal(cells.length, 4);
  assert.deepEqual(cells.map((c) => Number(c.getAttribute("data-count"))), [
    48,
    2,
    5,
    45,
  ]);
  assert.deepEqual(byClass(root, "text", "count").map((t) => t.textContent), [
    "48",
    "2",
    "5",
    "45",
  ]);
  const rowLabels = byClass(root, "text", "row-label").map((t) =>
    (t.lastChild as unknown as { data: string }).data
  );
  assert.deepEqual(rowLabels, names);
  assert.ok(svg.includes("&lt;dogs &amp; co&gt;"));
  // Diagonal (high recall) darker than off-diagonal.
  assert.notEqual(cells[0].getAttribute("fill"), cells[1].getAttribute("fill"));
  assert.throws(() => renderConfusionMatrix([[1, 2]], names), /must be 2×2/);
});

Deno.test("renderConfusionMatrix: readable with 120 classes", () => {
  const n = 120;
  const names = Array.from(
    { length: n },
    (_, i) =>
      i % 10 === 0 ? `an_extremely_long_class_name_${i}_that_goes_on` : `c${i}`,
  );
  const m = names.map((_, i) =>
    names.map((_, j) => (i === j ? 40 : (i + j) % 17 === 0 ? 3 : 0))
  );
  const root = parseSvg(renderConfusionMatrix(m, names));
  const cells = byClass(root, "rect", "cell");
  assert.equal(cells.length, n * n);
  const size = Number(cells[0].getAttribute("width"));
  assert.ok(size >= 4 && size <= 12, `cell ${size}px`);
  // Too small for numbers: counts move to tooltips.
  assert.equal(byClass(root, "text", "count").length, 0);
  assert.match(
    all(cells[1], "title")[0].textContent ?? "",
    /True: c0|True: an_extremely/,
  );
  // Long labels are truncated, the full name stays in a tooltip.
  const label = byClass(root, "text", "row-label")[0];
  assert.equal(all(label, "title")[0].textContent, names[0]);
  assert.ok(
    (label.lastChild as unknown as { data: string }).data.endsWith("…"),
  );
  const w = Number(root.getAttribute("width"));
  assert.ok(w < 1400, `width ${w}`);
});

Deno.test("escapeXml escapes all five XML specials", () => {
  assert.equal(
    escapeXml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;",
  );
});
