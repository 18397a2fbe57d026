import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { smoothLabels, trainingLoss } from "../../src/train/training_loss.ts";
import { batchStats, type LossFn } from "../../src/train/head_output.ts";
import { assertClose, recipeGoldens } from "../_helpers/recipe_goldens.ts";

await tf.setBackend("cpu");
const { losses } = await recipeGoldens();
// float32 on both sides.
const RTOL = 1e-6;

const values = (t: tf.Tensor) => Array.from(t.dataSync());

Deno.test("trainingLoss softmax: Keras' CategoricalCrossentropy(label_smoothing), class weights as the batch mean of w·l", () => {
  const probs = tf.tensor2d(losses.probs);
  const onehot = tf.oneHot(tf.tensor1d(losses.labels, "int32"), 3);
  assert.equal(losses.categorical.length, 3);
  for (const g of losses.categorical) {
    const ls = g.label_smoothing;
    const plain = trainingLoss("softmax", { labelSmoothing: ls });
    if (ls === 0) assert.equal(plain, "categoricalCrossentropy");
    else {
      const per = (plain as LossFn)(onehot, probs);
      assertClose(values(per), g.per_sample, RTOL, 0, `ls ${ls} per sample`);
      assertClose([tf.mean(per).dataSync()[0]], [g.mean], RTOL, 0, "mean");
    }
    const weighted = trainingLoss("softmax", {
      labelSmoothing: ls,
      classWeights: losses.class_weights,
    }) as LossFn;
    const wl = weighted(onehot, probs);
    // What trainOnBatch reports: the mean over the batch.
    assertClose(
      [tf.mean(wl).dataSync()[0]],
      [g.weighted_mean],
      RTOL,
      0,
      `ls ${ls} weighted`,
    );
    // Not Σwl / Σw.
    const w = losses.labels.map((l) => losses.class_weights[l]);
    const sw = w.reduce((a, b) => a + b, 0);
    const normalised = g.per_sample.reduce((a, l, i) => a + w[i] * l, 0) / sw;
    assert.ok(Math.abs(normalised - g.weighted_mean) > 1e-3);
    // Validation: smoothed, unweighted.
    const s = batchStats("softmax", probs, onehot, ls);
    assertClose([s.lossSum.dataSync()[0] / 6], [g.mean], RTOL, 0, "val");
  }
});

Deno.test("trainingLoss logit: Keras' BinaryCrossentropy(from_logits=True, label_smoothing) with class weights", () => {
  const x = tf.tensor2d(losses.logits, [6, 1]);
  const z = tf.tensor2d(losses.binary_labels, [6, 1]);
  for (const g of losses.binary) {
    const ls = g.label_smoothing;
    const weighted = trainingLoss("logit", {
      labelSmoothing: ls,
      classWeights: losses.binary_class_weights,
    }) as LossFn;
    assertClose(
      [tf.mean(weighted(z, x)).dataSync()[0]],
      [g.weighted_mean],
      RTOL,
      0,
      `ls ${ls} weighted`,
    );
    const plain = trainingLoss("logit", { labelSmoothing: ls }) as LossFn;
    assertClose(values(plain(z, x)), g.per_sample, RTOL, 0, `ls ${ls}`);
    const s = batchStats("logit", x, z, ls);
    assertClose([s.lossSum.dataSync()[0] / 6], [g.mean], RTOL, 0, "val");
  }
});

Deno.test("smoothLabels: y·(1−ls) + ls/k, k = 2 for the logit head; bad input refused", () => {
  const y = tf.tensor2d([[0, 1, 0, 0]]);
  assertClose(
    values(smoothLabels("softmax", y, 0.2)),
    [0.05, 0.85, 0.05, 0.05],
    1e-6,
  );
  assertClose(values(smoothLabels("logit", tf.tensor2d([[1], [0]]), 0.2)), [
    0.9,
    0.1,
  ], 1e-6);
  assert.equal(smoothLabels("softmax", y, 0), y);
  assert.throws(
    () => trainingLoss("softmax", { labelSmoothing: 1.5 }),
    /labelSmoothing: expected \[0, 1\]/,
  );
  assert.throws(
    () => trainingLoss("logit", { classWeights: [1, 2, 3] }),
    /the logit head has 2 classes, got 3 weights/,
  );
  const three = trainingLoss("softmax", { classWeights: [1, 2, 3] }) as LossFn;
  assert.throws(
    () => three(tf.tensor2d([[1, 0]]), tf.tensor2d([[0.5, 0.5]])),
    /3 weights for 2 classes/,
  );
});

Deno.test("trainingLoss: no tensors left behind per call", () => {
  const loss = trainingLoss("softmax", {
    classWeights: [1, 2],
    labelSmoothing: 0.1,
  }) as LossFn;
  const y = tf.tensor2d([[1, 0]]);
  const p = tf.tensor2d([[0.3, 0.7]]);
  const before = tf.memory().numTensors;
  loss(y, p).dispose();
  assert.equal(tf.memory().numTensors, before);
});
