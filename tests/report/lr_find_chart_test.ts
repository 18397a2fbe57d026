/**
 * The LR finder's figure (src/report/lr_find_chart.ts), parsed strictly: a
 * log-lr axis with a tick per decade, the curve without fastai's last 5
 * iterations, the suggestion window, markers where the suggestions' points
 * are (in the order of their learning rates), the legend's rates; a sweep
 * with no suggestion or non-finite losses still gives valid SVG. Also the
 * progress lines and the summary (src/report/lr_find_progress.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatLr, renderLrFindChart } from "../../src/report/lr_find_chart.ts";
import {
  lrFindProgress,
  lrFindSummaryLines,
} from "../../src/report/lr_find_progress.ts";
import { LrFinder, suggestLrs } from "../../src/train/lr_find.ts";
import { all, byClass, parseSvg } from "../_helpers/svg.ts";

/** A sweep of a U-shaped loss that diverges. */
function diverging() {
  const f = new LrFinder();
  while (!f.done) {
    const x = Math.log10(f.lr);
    f.record(
      1.1 - 0.9 / (1 + Math.exp(-3 * (x + 3))) +
        (x > -1 ? 5 * (x + 1) ** 2 : 0),
    );
  }
  return { finder: f, s: suggestLrs(f.records, f.options, f.stopReason) };
}

Deno.test("renderLrFindChart: log axis, curve without the last 5, window, markers at the suggestions", () => {
  const { finder, s } = diverging();
  assert.equal(finder.stopReason, "diverged");
  const root = parseSvg(renderLrFindChart(finder.records, s, { title: "t" }));
  const ticks = byClass(byClass(root, "g", "x-axis")[0], "text", "tick-label")
    .map((t) => t.textContent);
  const last = Math.floor(Math.log10(finder.records.at(-1)!.lr));
  assert.deepEqual(
    ticks,
    Array.from({ length: last + 8 }, (_, i) => `1e${i - 7}`),
  );
  const series = byClass(root, "g", "series")[0];
  assert.equal(
    Number(series.getAttribute("data-points")),
    finder.records.length - 5,
  );
  const d = all(series, "path")[0].getAttribute("d")!;
  assert.equal(d.split("L").length, finder.records.length - 5);
  const win = byClass(root, "rect", "suggestion-window")[0];
  assert.equal(Number(win.getAttribute("data-start")), s.window.start);
  assert.equal(Number(win.getAttribute("data-end")), s.window.end);

  const marks = byClass(root, "g", "suggestion");
  assert.deepEqual(
    marks.map((m) => m.getAttribute("data-suggestion")),
    ["valley", "minimum", "steep"],
  );
  // Markers are at their points' lrs: x order follows lr order.
  const cx = (name: string) =>
    Number(
      all(
        marks.find((m) => m.getAttribute("data-suggestion") === name)!,
        "circle",
      )[0]
        .getAttribute("cx"),
    );
  const byLr = (["valley", "minimum", "steep"] as const)
    .map((k) => [k, s[k]!.point.lr] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([k]) => k);
  const byX = [...byLr].sort((a, b) => cx(a) - cx(b));
  assert.deepEqual(byX, byLr);
  // The minimum's marker sits lowest (largest y) of all three.
  const cy = (name: string) =>
    Number(
      all(
        marks.find((m) => m.getAttribute("data-suggestion") === name)!,
        "circle",
      )[0]
        .getAttribute("cy"),
    );
  assert.ok(cy("minimum") >= cy("valley") && cy("minimum") >= cy("steep"));
  const legend = byClass(root, "g", "legend-item").map((g) =>
    all(g, "text")[0].textContent
  );
  assert.equal(legend[0], "smoothed loss");
  assert.equal(legend[1], `valley: ${formatLr(s.valley!.lr)}`);
  assert.equal(legend[2], `minimum: ${formatLr(s.minimum!.lr)}`);
});

Deno.test("renderLrFindChart: no suggestion, NaN losses and an empty sweep still give valid SVG", () => {
  const f = new LrFinder();
  for (let i = 0; i < 12; i++) f.record(i === 11 ? NaN : 1);
  assert.equal(f.stopReason, "non-finite-loss");
  const s = suggestLrs(f.records, f.options, f.stopReason);
  const svg = renderLrFindChart(f.records, s);
  assert.doesNotMatch(svg, /NaN|Infinity/);
  const root = parseSvg(svg);
  // fastai's window: [10, 11) before the NaN — one point: no steep.
  assert.deepEqual(s.window, { start: 10, end: 11 });
  assert.equal(s.steep, null);
  assert.deepEqual(
    byClass(root, "g", "suggestion").map((g) =>
      g.getAttribute("data-suggestion")
    ),
    ["valley", "minimum"],
  );
  const none = new LrFinder();
  for (let i = 0; i < 8; i++) none.record(1);
  none.interrupt();
  const bare = parseSvg(
    renderLrFindChart(
      none.records,
      suggestLrs(none.records, none.options, none.stopReason),
    ),
  );
  assert.equal(byClass(bare, "g", "suggestion").length, 0);
  assert.equal(byClass(bare, "rect", "suggestion-window").length, 0);
  const empty = new LrFinder();
  assert.ok(
    parseSvg(
      renderLrFindChart([], suggestLrs(empty.records, empty.options, null)),
    ),
  );
});

Deno.test("formatLr: short exponent form", () => {
  assert.equal(formatLr(1e-7), "1e-7");
  assert.equal(formatLr(0.001737), "1.74e-3");
  assert.equal(formatLr(10), "1e1");
  assert.equal(formatLr(2.5e-5), "2.5e-5");
});

Deno.test("lrFindProgress: plain lines every tenth; a TTY line redrawn; summary lines", () => {
  const { finder, s } = diverging();
  const text: string[] = [];
  const plain = lrFindProgress({
    writer: { write: (t) => text.push(t) },
    isTty: false,
  });
  for (const r of finder.records) plain.onIteration(r, 100);
  plain.end();
  const lines = text.join("").split("\n").filter(Boolean);
  // One every 10 iterations, and the last one at the end.
  const n = finder.records.length;
  assert.equal(lines.length, Math.floor(n / 10) + (n % 10 ? 1 : 0));
  assert.match(
    lines[0],
    /^lr-find {2}10\/100 \[==>\.+\] lr \S+ {2}loss \d\.\d{4} {2}smoothed \d\.\d{4}$/,
  );
  assert.ok(lines.at(-1)!.includes(` ${n}/100 `));
  assert.ok(!text.join("").includes("\r"));

  const tty: string[] = [];
  const bar = lrFindProgress({
    writer: { write: (t) => tty.push(t) },
    isTty: true,
  });
  for (const r of finder.records.slice(0, 3)) bar.onIteration(r, 100);
  bar.end();
  assert.equal(tty.length, 4);
  assert.ok(
    tty.slice(0, 3).every((t) => t.startsWith("\r") && t.endsWith("\x1b[K")),
  );
  assert.equal(tty[3], "\n");

  const summary = lrFindSummaryLines({
    ...finder,
    records: finder.records,
    stopReason: finder.stopReason!,
    suggestions: s,
    options: finder.options,
  });
  assert.match(
    summary[0],
    new RegExp(
      `^lr-find: ${n} iterations, learning rates 1e-7 to \\S+ \\(diverged: `,
    ),
  );
  assert.equal(
    summary[1],
    `suggested learning rates: valley ${
      formatLr(s.valley!.lr)
    } (fastai's default), minimum ${formatLr(s.minimum!.lr)}, steep ${
      formatLr(s.steep!.lr)
    }`,
  );
});
