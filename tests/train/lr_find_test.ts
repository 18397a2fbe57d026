/**
 * The LR finder's pure algorithm (src/train/lr_find.ts) against
 * `fixtures/fastai/lr_find_goldens.json`, made by
 * `fixtures/fastai/make_lr_find_goldens.py` — fastai's `lr_find` re-implemented
 * from its formulas (fastai itself cannot be installed here) — on fixed loss
 * curves: the schedule, the smoothed losses, where the sweep stops and why,
 * fastai's suggestion window and the valley / minimum / steep suggestions;
 * plus hand computations of the smoothing and the option errors.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  LR_FIND_DEFAULTS,
  LrFinder,
  type LrFindOptions,
  lrFindOptions,
  type LrFindRecord,
  minimum,
  SmoothedLoss,
  steep,
  suggestionWindow,
  suggestLrs,
  sweepLr,
  valley,
} from "../../src/train/lr_find.ts";

interface GoldenSuggestion {
  lr: number;
  index: number;
  point: { lr: number; loss: number };
}
interface GoldenCase {
  name: string;
  options: LrFindOptions;
  raw: (number | string)[];
  expected: {
    iterations: number;
    stop: "completed" | "diverged";
    lrs: number[];
    smoothLosses: (number | string)[];
    suggestions: {
      window: { start: number; end: number };
      valley: GoldenSuggestion | null;
      minimum: GoldenSuggestion | null;
      steep: GoldenSuggestion | null;
    };
  };
}

const golden = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/fastai/lr_find_goldens.json", import.meta.url),
  ),
) as { cases: GoldenCase[] };

/** JSON has no NaN/Infinity: the script writes them as strings. */
const num = (v: number | string) => typeof v === "number" ? v : Number(v);

/** Relative closeness for float64 values computed the same way in both. */
function close(a: number, b: number, rel = 1e-12): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

/** Runs the finder on a case's raw losses, as the sweep feeds it. */
function drive(c: GoldenCase): LrFinder {
  const finder = new LrFinder(c.options);
  while (!finder.done) finder.record(num(c.raw[finder.records.length]));
  return finder;
}

Deno.test("lr_find golden: the file holds the cases it was made for", () => {
  assert.ok(golden.cases.length >= 10);
  const stops = new Set(golden.cases.map((c) => c.expected.stop));
  assert.deepEqual([...stops].sort(), ["completed", "diverged"]);
  assert.ok(golden.cases.some((c) => c.expected.suggestions.valley === null));
});

for (const c of golden.cases) {
  Deno.test(`lr_find golden ${c.name}: schedule, smoothed loss, stop, suggestions (1e-12 relative)`, () => {
    const finder = drive(c);
    const e = c.expected;
    // fastai trains on through NaN losses; this sweep stops at the first.
    const nanAt = e.smoothLosses.findIndex((v) => v === "NaN");
    if (nanAt >= 0) {
      assert.equal(finder.stopReason, "non-finite-loss");
      assert.equal(finder.records.length, nanAt + 1);
    } else {
      assert.equal(finder.stopReason, e.stop);
      assert.equal(finder.records.length, e.iterations);
    }
    finder.records.forEach((r, i) => {
      assert.equal(r.iteration, i);
      assert.ok(
        close(r.lr, e.lrs[i]),
        `${c.name} lr[${i}] ${r.lr} vs ${e.lrs[i]}`,
      );
      assert.ok(
        close(r.smoothLoss, num(e.smoothLosses[i])),
        `${c.name} smooth[${i}] ${r.smoothLoss} vs ${e.smoothLosses[i]}`,
      );
      assert.equal(Object.is(r.loss, num(c.raw[i])), true);
    });
    const s = suggestLrs(finder.records, finder.options, finder.stopReason);
    assert.deepEqual(s.window, e.suggestions.window);
    for (const k of ["valley", "minimum", "steep"] as const) {
      const want = e.suggestions[k];
      const got = s[k];
      if (want === null) {
        assert.equal(got, null, `${c.name} ${k}`);
        continue;
      }
      assert.ok(got, `${c.name} ${k}`);
      assert.equal(got.index, want.index, `${c.name} ${k} index`);
      assert.ok(
        close(got.lr, want.lr),
        `${c.name} ${k} ${got.lr} vs ${want.lr}`,
      );
      assert.ok(close(got.point.lr, want.point.lr));
      assert.ok(close(got.point.loss, want.point.loss));
    }
  });
}

Deno.test("lr_find: the schedule runs from startLr towards endLr, exponentially", () => {
  const o = lrFindOptions({});
  assert.deepEqual(o, { ...LR_FIND_DEFAULTS });
  assert.equal(sweepLr(o, 0), 1e-7);
  assert.ok(close(sweepLr(o, 50), 1e-3));
  assert.ok(close(sweepLr(o, 100), 10));
  // Equal ratios between steps: a straight line on a log axis.
  const ratio = sweepLr(o, 1) / sweepLr(o, 0);
  assert.ok(close(sweepLr(o, 71) / sweepLr(o, 70), ratio, 1e-9));
  // numIt below 6 runs 6 iterations, as fastai does.
  const short = new LrFinder({ numIt: 3 });
  while (!short.done) short.record(1);
  assert.equal(short.records.length, 6);
  assert.equal(short.stopReason, "completed");
});

Deno.test("lr_find: smoothed loss by hand (beta 0.98, bias-corrected)", () => {
  const s = new SmoothedLoss(0.98);
  // The first value is the loss itself: 0.02·l / (1 − 0.98).
  assert.ok(close(s.add(2), 2));
  // Then (0.98·0.04 + 0.02·1) / (1 − 0.98²) = 0.0592 / 0.0396.
  assert.ok(close(s.add(1), 0.0592 / 0.0396));
  assert.equal(s.count, 2);
});

Deno.test("lr_find: divergence is 4x the best smoothed loss; stopDiv false runs on", () => {
  const losses = (i: number) => (i < 20 ? 1 - i * 0.04 : 200);
  const finder = new LrFinder({ numIt: 100 });
  while (!finder.done) finder.record(losses(finder.records.length));
  assert.equal(finder.stopReason, "diverged");
  const last = finder.records.at(-1)!;
  assert.ok(last.smoothLoss > 4 * finder.bestLoss);
  assert.ok(finder.records.at(-2)!.smoothLoss <= 4 * finder.bestLoss);
  const on = new LrFinder({ numIt: 100, stopDiv: false });
  while (!on.done) on.record(losses(on.records.length));
  assert.equal(on.stopReason, "completed");
  assert.equal(on.records.length, 100);
  assert.throws(() => on.record(1), /stopped \(completed\)/);
});

Deno.test("lr_find: interrupt, and an early stop leaves no suggestion", () => {
  const finder = new LrFinder();
  for (let i = 0; i < 12; i++) finder.record(1 - i / 100);
  finder.interrupt();
  assert.equal(finder.stopReason, "interrupted");
  const s = suggestLrs(finder.records, finder.options, finder.stopReason);
  // fastai's window: records 10 .. 12 − 5 — empty.
  assert.deepEqual(s.window, { start: 10, end: 10 });
  assert.equal(s.valley, null);
  assert.equal(s.minimum, null);
  assert.equal(s.steep, null);
});

Deno.test("lr_find: the suggestion functions on hand-made curves", () => {
  const lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1];
  // Steepest fall between 1e-3 and 1e-2, lowest at 1e-1.
  const losses = [1.0, 0.9, 0.4, 0.3, 2.0];
  assert.deepEqual(steep(lrs, losses), { lr: 1e-3, index: 1 });
  assert.deepEqual(minimum(lrs, losses), { lr: 1e-2, index: 3 });
  // Longest valley 0..3 (4 points): fastai's start −1, sections 4/3,
  // index −1 + 1 + 0 = 0.
  assert.deepEqual(valley(lrs, losses), { lr: 1e-4, index: 0 });
  // Ties: the first minimum, as argmin.
  assert.equal(minimum([1, 2, 3], [0.5, 0.5, 0.7])!.index, 0);
  // Python's negative index: two falling points give index −1, the last.
  assert.deepEqual(valley([1, 2], [1, 0.5]), { lr: 2, index: 1 });
  assert.equal(valley([], []), null);
  assert.equal(steep([1], [1]), null);
});

Deno.test("lr_find: the window after a NaN is fastai's (cut at the NaN)", () => {
  const records: LrFindRecord[] = Array.from({ length: 41 }, (_, i) => ({
    iteration: i,
    lr: 10 ** (i / 10 - 7),
    loss: i === 40 ? NaN : 1,
    smoothLoss: i === 40 ? NaN : 1,
  }));
  // fastai would have run to 100: [10, min(40, 95)).
  assert.deepEqual(suggestionWindow(records, 100, "non-finite-loss"), {
    start: 10,
    end: 40,
  });
  // A divergence at the 41st record: [10, 41 − 5).
  assert.deepEqual(suggestionWindow(records.slice(0, 40), 100, "diverged"), {
    start: 10,
    end: 35,
  });
});

Deno.test("lr_find: bad options name the option", () => {
  assert.throws(
    () => lrFindOptions({ startLr: 0 }),
    /startLr: expected a positive number, found 0/,
  );
  assert.throws(
    () => lrFindOptions({ endLr: NaN }),
    /endLr: expected a positive number/,
  );
  assert.throws(
    () => lrFindOptions({ startLr: 1, endLr: 0.1 }),
    /endLr \(0\.1\) must be greater than startLr \(1\)/,
  );
  assert.throws(
    () => lrFindOptions({ numIt: 2.5 }),
    /numIt: expected an integer >= 1, found 2\.5/,
  );
  assert.throws(
    () => lrFindOptions({ beta: 1 }),
    /beta: expected a number in \[0, 1\)/,
  );
});
