import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  classificationReport,
  confusionMatrix,
  evaluateModel,
  formatClassificationReport,
  type LabelledBatch,
} from "../../src/evaluate/evaluate.ts";

await tf.setBackend("cpu");

const close = (a: number, b: number, what = "") =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

// 9 samples, 3 classes; class 2 ("c") is never predicted.
const TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2];
const PRED = [0, 0, 1, 1, 0, 1, 0, 1, 1];

Deno.test("confusionMatrix: rows are true classes, columns predictions", () => {
  assert.deepEqual(confusionMatrix(TRUE, PRED, 3), [
    [2, 1, 0],
    [1, 1, 0],
    [1, 3, 0],
  ]);
  assert.deepEqual(confusionMatrix(Int32Array.from([1, 1]), [1, 0], 2), [
    [0, 0],
    [1, 1],
  ]);
  assert.deepEqual(confusionMatrix([], [], 2), [[0, 0], [0, 0]]);
  assert.throws(() => confusionMatrix([0, 1], [0], 2), RangeError);
  assert.throws(() => confusionMatrix([0, 2], [0, 1], 2), /trueLabels\[1\]/);
  assert.throws(() => confusionMatrix([0, 1], [0, 0.5], 2), /predLabels\[1\]/);
  assert.throws(() => confusionMatrix([0], [-1], 2), RangeError);
});

Deno.test("classificationReport: hand-computed values, 0/0 defined as 0", () => {
  const r = classificationReport(confusionMatrix(TRUE, PRED, 3), [
    "a",
    "b",
    "c",
  ]);
  // a: tp 2, predicted 4, support 3.  b: tp 1, predicted 5, support 2.
  // c: tp 0, predicted 0 (precision 0/0 → 0), support 4.
  const expected = [
    { name: "a", precision: 2 / 4, recall: 2 / 3, f1: 4 / 7, support: 3 },
    { name: "b", precision: 1 / 5, recall: 1 / 2, f1: 2 / 7, support: 2 },
    { name: "c", precision: 0, recall: 0, f1: 0, support: 4 },
  ];
  r.classes.forEach((c, i) => {
    const e = expected[i];
    assert.equal(c.name, e.name);
    assert.equal(c.support, e.support);
    for (const k of ["precision", "recall", "f1"] as const) {
      close(c[k], e[k], `${c.name}.${k}`);
    }
  });
  close(r.accuracy, 3 / 9, "accuracy");
  close(r.macroAvg.precision, (0.5 + 0.2) / 3);
  close(r.macroAvg.recall, (2 / 3 + 1 / 2) / 3);
  close(r.macroAvg.f1, (4 / 7 + 2 / 7) / 3);
  close(r.weightedAvg.precision, (3 * 0.5 + 2 * 0.2) / 9);
  close(r.weightedAvg.recall, 3 / 9);
  close(r.weightedAvg.f1, (3 * 4 / 7 + 2 * 2 / 7) / 9);
  assert.equal(r.macroAvg.support, 9);
  assert.equal(r.weightedAvg.support, 9);

  // A class absent from both truth and predictions: all zeros, counted in
  // the macro average (every class is listed, like labels=range(k)).
  const r4 = classificationReport(confusionMatrix(TRUE, PRED, 4), [
    "a",
    "b",
    "c",
    "d",
  ]);
  assert.deepEqual(r4.classes[3], {
    name: "d",
    precision: 0,
    recall: 0,
    f1: 0,
    support: 0,
  });
  close(r4.macroAvg.f1, (4 / 7 + 2 / 7) / 4);
  close(r4.weightedAvg.f1, r.weightedAvg.f1);

  // Empty data: everything 0, no NaN.
  const empty = classificationReport([[0, 0], [0, 0]], ["x", "y"]);
  assert.equal(empty.accuracy, 0);
  assert.equal(empty.macroAvg.f1, 0);
  assert.throws(() => classificationReport([[1, 0], [0, 1]], ["x"]));

  const text = formatClassificationReport(r);
  assert.match(text, /precision\s+recall\s+f1-score\s+support/);
  assert.match(text, /\n\s+a\s+0\.50\s+0\.67\s+0\.57\s+3\n/);
  assert.match(text, /\n\s+accuracy\s+0\.33\s+9\n/);
  assert.match(text, /\n\s*weighted avg\s+0\.21\s+0\.33\s+0\.25\s+9$/);
});

Deno.test("classificationReport: matches per-sample counting on random labels", () => {
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let trial = 0; trial < 20; trial++) {
    const k = 2 + (trial % 5), n = 1 + Math.floor(rand() * 60);
    const t = Array.from({ length: n }, () => Math.floor(rand() * k));
    // Skew predictions so some classes are rarely or never predicted.
    const p = t.map((v) => rand() < 0.6 ? v : Math.floor(rand() * rand() * k));
    const names = Array.from({ length: k }, (_, i) => `c${i}`);
    const r = classificationReport(confusionMatrix(t, p, k), names);
    const div = (a: number, b: number) => (b ? a / b : 0);
    const f1s: number[] = [], precs: number[] = [], recs: number[] = [];
    for (let c = 0; c < k; c++) {
      let tp = 0, fp = 0, fn = 0;
      for (let i = 0; i < n; i++) {
        if (p[i] === c && t[i] === c) tp++;
        else if (p[i] === c) fp++;
        else if (t[i] === c) fn++;
      }
      const prec = div(tp, tp + fp), rec = div(tp, tp + fn);
      const f1 = div(2 * prec * rec, prec + rec);
      close(r.classes[c].precision, prec);
      close(r.classes[c].recall, rec);
      close(r.classes[c].f1, f1);
      assert.equal(r.classes[c].support, tp + fn);
      precs.push(prec);
      recs.push(rec);
      f1s.push(f1);
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    close(r.macroAvg.f1, mean(f1s));
    close(r.macroAvg.precision, mean(precs));
    close(r.accuracy, t.filter((v, i) => v === p[i]).length / n);
    close(r.weightedAvg.recall, r.accuracy); // always true
    const sup = names.map((_, c) => t.filter((v) => v === c).length);
    close(
      r.weightedAvg.f1,
      f1s.reduce((a, f, c) => a + f * sup[c], 0) / n,
    );
  }
});

/** Dense(3, softmax) with fixed weights: logits = [x0, x1, 0.5]. */
function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({
      inputShape: [2],
      units: 3,
      activation: "softmax",
    })],
  });
  model.setWeights([
    tf.tensor2d([[1, 0, 0], [0, 1, 0]]),
    tf.tensor1d([0, 0, 0.5]),
  ]);
  return model;
}

const XS = [[2, 0], [0, 2], [0, 0], [1, 0], [0, 3], [-1, -1], [3, 1]];
const YS = [0, 1, 2, 1, 0, 2, 2]; // predictions: 0, 1, 2, 0, 1, 2, 0

function softmaxLoss(x: number[], y: number): number {
  const logits = [x[0], x[1], 0.5];
  const z = logits.map(Math.exp);
  const sum = z.reduce((a, b) => a + b, 0);
  return -Math.log(z[y] / sum);
}

function* batchesOf(size: number, oneHot = true): Generator<LabelledBatch> {
  for (let i = 0; i < XS.length; i += size) {
    const ys = YS.slice(i, i + size);
    yield {
      xs: tf.tensor2d(XS.slice(i, i + size)),
      ys: oneHot
        ? tf.tidy(() => tf.oneHot(tf.tensor1d(ys, "int32"), 3))
        : tf.tensor1d(ys, "int32"),
    };
  }
}

Deno.test("evaluateModel: tiny real model, batch by batch, nothing leaks", async () => {
  const model = tinyModel();
  const before = tf.memory().numTensors;
  const seen: LabelledBatch[] = [];
  async function* batches() { // async iterable, uneven last batch
    for (const b of batchesOf(3)) {
      seen.push(b);
      yield b;
    }
  }
  const ev = await evaluateModel(model, batches(), ["a", "b", "c"]);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(
    seen.length === 3 &&
      seen.every((b) => (b.xs as tf.Tensor).isDisposed && b.ys.isDisposed),
  );

  assert.equal(ev.count, 7);
  assert.deepEqual(ev.matrix, [
    [1, 1, 0],
    [1, 1, 0],
    [1, 0, 2],
  ]);
  close(ev.accuracy, 4 / 7);
  assert.equal(ev.report.accuracy, ev.accuracy);
  const expectedLoss = XS.reduce((a, x, i) => a + softmaxLoss(x, YS[i]), 0) / 7;
  assert.ok(
    Math.abs(ev.loss - expectedLoss) < 1e-5,
    `${ev.loss} vs ${expectedLoss}`,
  );
  close(ev.report.classes[2].precision, 1); // predicted twice, both right
  close(ev.report.classes[2].recall, 2 / 3);

  // Same result from index labels and another batch size, keeping batches.
  const kept = [...batchesOf(2, false)];
  const ev2 = await evaluateModel(model, kept, ["a", "b", "c"], {
    disposeBatches: false,
  });
  assert.deepEqual(ev2.matrix, ev.matrix);
  assert.ok(Math.abs(ev2.loss - ev.loss) < 1e-6);
  assert.ok(kept.every((b) => !(b.xs as tf.Tensor).isDisposed));
  tf.dispose(kept.flatMap((b) => [b.xs, b.ys]));
  assert.equal(tf.memory().numTensors, before);

  // Matches Keras-style evaluate() in TF.js for loss and accuracy.
  model.compile({
    optimizer: "sgd",
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const [x, y] = [
    tf.tensor2d(XS),
    tf.tidy(() => tf.oneHot(tf.tensor1d(YS, "int32"), 3)),
  ];
  const [l, a] = model.evaluate(x, y) as tf.Scalar[];
  assert.ok(Math.abs((await l.data())[0] - ev.loss) < 1e-5);
  assert.ok(Math.abs((await a.data())[0] - ev.accuracy) < 1e-6);
  tf.dispose([x, y, l, a]);
  model.dispose();
});

Deno.test("evaluateModel: single sigmoid output with two classes", async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({
      inputShape: [1],
      units: 1,
      activation: "sigmoid",
    })],
  });
  model.setWeights([tf.tensor2d([[1]]), tf.tensor1d([0])]);
  const xs = [-2, -1, 0.5, 3];
  const ys = [0, 1, 1, 0];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const expectedLoss = -xs.reduce(
    (a, v, i) => a + (ys[i] ? Math.log(sig(v)) : Math.log(1 - sig(v))),
    0,
  ) / 4;
  const before = tf.memory().numTensors;
  const ev = await evaluateModel(model, [{
    xs: tf.tensor2d(xs, [4, 1]),
    ys: tf.tensor1d(ys, "int32"),
  }], ["neg", "pos"]);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(ev.matrix, [[1, 1], [1, 1]]);
  assert.ok(Math.abs(ev.loss - expectedLoss) < 1e-5);

  // A model whose outputs do not match the classes is refused, without leaks.
  await assert.rejects(
    evaluateModel(model, [{ xs: tf.zeros([2, 1]), ys: tf.zeros([2, 3]) }], [
      "a",
      "b",
      "c",
    ]),
    /1 columns for 3 classes/,
  );
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("evaluateModel: no batches gives count 0 and NaN loss", async () => {
  const model = tinyModel();
  const ev = await evaluateModel(model, [], ["a", "b", "c"]);
  assert.equal(ev.count, 0);
  assert.ok(Number.isNaN(ev.loss));
  assert.equal(ev.accuracy, 0);
  model.dispose();
});
