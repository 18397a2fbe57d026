/**
 * The TensorFlow tutorial's head, `model.head.output: "logit"`: Dense(1)
 * trained on its logit with Keras' BinaryCrossentropy(from_logits=True) and
 * BinaryAccuracy(threshold=0), saved with a sigmoid.
 *
 * - the per-epoch loss, accuracy and validation metrics of `fitLoop` equal a
 *   hand computation from the weights before each batch (tf ops for the
 *   logits, float64 for the cross-entropy);
 * - accuracy is taken at logit > 0 (a logit of exactly 0 is class 0) in the
 *   compiled metric, the validation pass, the evaluation from probabilities
 *   and the evaluation of the sigmoid model;
 * - softmax-2 at learning rate η and the logit head at 2η, started from the
 *   same decision function, give the same curves;
 * - end to end on cpu with a 2-class copy of the fixture dataset: every
 *   output, a saved model that `tf.loadLayersModel` loads and that outputs
 *   sigmoid(logit) `[n, 1]`, ONNX, predict;
 * - 3 classes fail before anything is built, naming the key.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import {
  buildClassifier,
  type Classifier,
  type HeadOutput,
} from "../../src/model/classifier.ts";
import {
  type BatchSource,
  evaluateLoss,
  fitLoop,
} from "../../src/train/fit.ts";
import { type FeatureSet, featureSource } from "../../src/train/sources.ts";
import {
  classProbabilities,
  compileArgs,
  encodeLabels,
} from "../../src/train/head_output.ts";
import { makeOptimizer } from "../../src/train/stages.ts";
import {
  evaluateModel,
  evaluateProbabilities,
} from "../../src/evaluate/evaluate.ts";
import { runTraining } from "../../src/run.ts";
import type { ConfigInput } from "../../src/config/types.ts";
import { loadConfig } from "../../src/config/load.ts";
import { loadModel } from "../../src/model/model_io.ts";
import { collectImageFiles, predictFiles } from "../../src/evaluate/predict.ts";
import { createOnnxEngine } from "../../src/engine/onnx_runtime.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import { prepareData } from "../../src/data/prepare.ts";
import { makeBatch, mobileNetV2Preprocess } from "../../src/data/batches.ts";
import { getFixtures, serve } from "../_helpers/data.ts";
import {
  checkCharts,
  checkMetricsCsv,
  listFiles,
  maxAbsDiff,
  predict,
  quiet,
  RUN_FILES,
  SIZE,
  trainEnv,
} from "../_helpers/train.ts";

await tf.setBackend("cpu");
const env = await trainEnv();
Deno.test.afterAll(() => env.close());

// ---------------------------------------------------------------------------
// Reference computations (float64 from float32 logits).

/** TensorFlow's sigmoid_cross_entropy_with_logits in float64. */
function sigmoidCe(x: number, z: number): number {
  return Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x)));
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Logits of `x` `[n, f]` through a Dense(1) with `kernel` `[f, 1]` and `bias` `[1]`. */
async function logitsOf(
  x: tf.Tensor2D,
  kernel: Float32Array,
  bias: Float32Array,
): Promise<Float32Array> {
  const y = tf.tidy(() =>
    tf.add(
      tf.matMul(x, tf.tensor2d(kernel, [kernel.length, 1])),
      tf.tensor1d(bias),
    )
  );
  const out = await y.data() as Float32Array;
  y.dispose();
  return out;
}

/** The current values of a model's weights (copies). */
async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return await Promise.all(
    model.getWeights().map(async (w) =>
      new Float32Array(await w.data() as Float32Array)
    ),
  );
}

/** Seeded standard-normal-ish features with a class signal in the first 8 dimensions. */
function featureSet(
  n: number,
  featureSize: number,
  seed: number,
): FeatureSet {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const features = new Float32Array(n * featureSize);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rand() < 0.5 ? 0 : 1;
    for (let j = 0; j < featureSize; j++) {
      const signal = j < 8 ? (labels[i] ? 0.6 : -0.6) : 0;
      features[i * featureSize + j] = signal + (rand() - 0.5) * 2;
    }
  }
  return { features, featureSize, labels, numClasses: 2 };
}

/** A classifier of the tiny size (random base: only its head is used here). */
function tinyClassifier(output: HeadOutput, seed = 5): Promise<Classifier> {
  return buildClassifier({
    imageSize: [SIZE, SIZE],
    alpha: 0.35,
    weights: null,
    numClasses: 2,
    output,
    seed,
  });
}

/** `model.setWeights(weights)`, then frees `weights` (setWeights copies). */
function setWeights(model: tf.LayersModel, weights: tf.Tensor[]): void {
  model.setWeights(weights);
  tf.dispose(weights);
}

function dispose(clf: Classifier): void {
  clf.head.dispose();
  clf.model.dispose();
}

// ---------------------------------------------------------------------------

Deno.test("logit head: Dense(1) logit graphs for training, a sigmoid on the same Dense for saving; disposing model and head frees it all", async () => {
  const before = tf.memory().numTensors;
  for (const api of ["functional", "sequential"] as const) {
    const clf = await buildClassifier({
      imageSize: [SIZE, SIZE],
      alpha: 0.35,
      weights: null,
      numClasses: 2,
      output: "logit",
      seed: 3,
      api,
    });
    assert.equal(clf.output, "logit");
    assert.deepEqual(clf.model.outputs[0].shape, [null, 1]);
    assert.deepEqual(clf.fitModel.outputs[0].shape, [null, 1]);
    assert.deepEqual(clf.head.outputs[0].shape, [null, 1]);
    assert.deepEqual(clf.fitHead.outputs[0].shape, [null, 1]);
    assert.notEqual(clf.fitModel, clf.model);
    assert.equal(clf.model.layers.at(-1)!.getClassName(), "Activation");
    assert.equal(clf.model.layers.at(-1)!.name, "predictions");
    // One Dense(1), linear, shared by all four graphs.
    const dense = clf.fitHead.layers.at(-1)!;
    assert.equal(dense.name, "logits");
    assert.equal(dense.getConfig().activation, "linear");
    assert.equal(clf.model.getLayer("logits"), dense);
    const x = tf.randomUniform([3, SIZE, SIZE, 3], -1, 1, "float32", 1);
    const f = tf.randomUniform([3, clf.featureSize], 0, 6, "float32", 2);
    const [p, l, ph, lh] = [
      await predict(clf.model, x),
      await predict(clf.fitModel, x),
      await predict(clf.head, f),
      await predict(clf.fitHead, f),
    ];
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(p[i] - sigmoid(l[i])) < 1e-7, `${p[i]} ${l[i]}`);
      assert.ok(Math.abs(ph[i] - sigmoid(lh[i])) < 1e-7);
    }
    tf.dispose([x, f]);
    dispose(clf);
  }
  assert.equal(tf.memory().numTensors, before);
  // The softmax head trains what it saves.
  const soft = await tinyClassifier("softmax");
  assert.equal(soft.fitModel, soft.model);
  assert.equal(soft.fitHead, soft.head);
  assert.deepEqual(soft.model.outputs[0].shape, [null, 2]);
  dispose(soft);
  await assert.rejects(
    buildClassifier({
      imageSize: [SIZE, SIZE],
      numClasses: 3,
      output: "logit",
      alpha: 0.35,
    }),
    /output "logit" .* needs exactly 2 classes, got 3/,
  );
});

Deno.test("logit head: labels are class 1 as 0/1 [n, 1]; predict's rows are [1 − p, p]", () => {
  const y = encodeLabels([1, 0, 0, 1], 2, "binary");
  assert.deepEqual(y.shape, [4, 1]);
  assert.deepEqual(Array.from(y.dataSync()), [1, 0, 0, 1]);
  y.dispose();
  assert.throws(() => encodeLabels([0, 2], 3, "binary"), /need 2 classes/);
  assert.throws(() => encodeLabels([0, 2], 2, "binary"), /label 1 is 2/);
  const rows = classProbabilities(new Float32Array([0.25, 0.9]), 2, 2);
  assert.deepEqual(rows, [[0.75, 0.25], [
    1 - Math.fround(0.9),
    Math.fround(0.9),
  ]]);
  rows.forEach((r) => assert.equal(r[0] + r[1], 1));
  assert.deepEqual(classProbabilities([0.1, 0.9], 1, 2), [[0.1, 0.9]]);
  assert.throws(() => classProbabilities([0.1, 0.2, 0.3], 1, 2), /3 values/);
});

Deno.test("logit head: an epoch's loss, accuracy and validation metrics equal a hand computation from the weights before each batch", async () => {
  const clf = await tinyClassifier("logit");
  const f = clf.featureSize;
  const order = {
    batchSize: 8,
    shuffle: true,
    seed: 3,
    labels: "binary" as const,
  };
  const trainSet = featureSet(21, f, 11);
  const valSet = featureSet(10, f, 12);
  const train = featureSource(trainSet, order);
  const val = featureSource(valSet, { ...order, shuffle: false });
  const optimizer = makeOptimizer("adam", 1e-2);
  clf.fitHead.compile({ optimizer, ...compileArgs("logit") });
  // The weights before each batch: at the epoch's start and after each batch.
  const snapshots: Float32Array[][] = [];
  const snap = async () => void snapshots.push(await weightsOf(clf.fitHead));
  const r = await fitLoop(clf.fitHead, train, val, {
    epochs: 1,
    output: "logit",
    callbacks: [{ onEpochBegin: snap, onBatchEnd: snap }],
  });
  assert.equal(r.stopReason, "completed");
  assert.equal(snapshots.length, train.numBatches + 1);

  let ceSum = 0, correct = 0, n = 0, b = 0;
  for await (const { xs, ys } of train.batches(0)) {
    const [kernel, bias] = snapshots[b++];
    const logits = await logitsOf(xs as tf.Tensor2D, kernel, bias);
    const z = await ys.data();
    logits.forEach((x, i) => {
      ceSum += sigmoidCe(x, z[i]);
      correct += Number((x > 0 ? 1 : 0) === z[i]);
    });
    n += logits.length;
    tf.dispose([xs, ys]);
  }
  const row = r.rows[0];
  assert.equal(n, 21);
  assert.ok(
    Math.abs(row.loss - ceSum / n) < 1e-6,
    `loss ${row.loss} vs reference ${ceSum / n}`,
  );
  // Each batch's accuracy is a float32 mean (2/5 is not exact): 1e-7.
  assert.ok(
    Math.abs(row.accuracy - correct / n) < 1e-7,
    `accuracy ${row.accuracy} vs reference ${correct / n}`,
  );

  // Validation with the weights after the epoch.
  const [kernel, bias] = snapshots.at(-1)!;
  let valCe = 0, valCorrect = 0;
  const rows: number[] = [];
  for await (const { xs, ys } of val.batches(0)) {
    const logits = await logitsOf(xs as tf.Tensor2D, kernel, bias);
    const z = await ys.data();
    logits.forEach((x, i) => {
      valCe += sigmoidCe(x, z[i]);
      valCorrect += Number((x > 0 ? 1 : 0) === z[i]);
      rows.push(sigmoid(-x), sigmoid(x));
    });
    tf.dispose([xs, ys]);
  }
  assert.ok(Math.abs(row.val_loss - valCe / 10) < 1e-6);
  assert.ok(Math.abs(row.val_accuracy - valCorrect / 10) < 1e-12);
  assert.ok(maxAbsDiff(r.validationProbabilities!, rows) < 1e-7);

  // The training loss is the mean over the batches of Keras' per-batch mean.
  optimizer.dispose();
  dispose(clf);
});

Deno.test("logit head: accuracy is taken at logit > 0 everywhere (a logit of exactly 0 is class 0)", async () => {
  const clf = await tinyClassifier("logit");
  const f = clf.featureSize;
  // The logit is the first feature: kernel e₀, bias 0.
  const logits = [-1, 0, 1e-3, 2, -1e-3];
  const labels = new Int32Array([0, 1, 1, 0, 0]);
  // > 0: correct, wrong, correct, wrong, correct → 3/5 (≥ 0 would give 4/5).
  const expected = 3 / 5;
  const features = new Float32Array(5 * f);
  logits.forEach((x, i) => {
    features[i * f] = x;
    for (let j = 1; j < f; j++) features[i * f + j] = Math.sin(i * 31 + j);
  });
  const kernel = new Float32Array(f);
  kernel[0] = 1;
  setWeights(clf.fitHead, [tf.tensor2d(kernel, [f, 1]), tf.tensor1d([0])]);
  const set = { features, featureSize: f, labels, numClasses: 2 };
  const source = featureSource(set, {
    batchSize: 5,
    shuffle: false,
    seed: 0,
    labels: "binary",
  });
  const [x, y] = [
    tf.tensor2d(features, [5, f]),
    encodeLabels(labels, 2, "binary"),
  ];
  assert.deepEqual(
    Array.from(await predict(clf.fitHead, x)),
    logits.map(Math.fround),
  );

  // The compiled metric (what trainOnBatch reports).
  const optimizer = makeOptimizer("sgd", 1e-3);
  clf.fitHead.compile({ optimizer, ...compileArgs("logit") });
  const [lossT, accT] = clf.fitHead.evaluate(x, y) as tf.Scalar[];
  const ce = logits.reduce((a, v, i) => a + sigmoidCe(v, labels[i]), 0) / 5;
  assert.ok(Math.abs((await lossT.data())[0] - ce) < 1e-6);
  assert.equal((await accT.data())[0], Math.fround(expected));
  tf.dispose([x, y, lossT, accT]);

  // The validation pass, and the evaluation from its probabilities.
  const v = await evaluateLoss(clf.fitHead, source, "logit");
  assert.ok(Math.abs(v.accuracy - expected) < 1e-12);
  assert.ok(Math.abs(v.loss - ce) < 1e-6);
  const ev = evaluateProbabilities(v.probabilities, labels, ["a", "b"]);
  assert.equal(ev.accuracy, expected);
  assert.deepEqual(ev.matrix, [[2, 1], [1, 1]]);
  // The saved (sigmoid) head on the same batches with 0/1 labels.
  const em = await evaluateModel(clf.head, source.batches(0), ["a", "b"]);
  assert.equal(em.accuracy, expected);
  assert.deepEqual(em.matrix, ev.matrix);
  assert.ok(Math.abs(em.loss - ce) < 1e-6);
  optimizer.dispose();
  dispose(clf);
});

/** Trains `clf`'s head for `epochs` on the feature sets; the rows. */
async function trainHead(
  clf: Classifier,
  lr: number,
  epochs: number,
  sets: { train: FeatureSet; val: FeatureSet },
): Promise<MetricsRow[]> {
  const order = {
    batchSize: 16,
    shuffle: true,
    seed: 9,
    labels: clf.output === "logit" ? "binary" as const : "one-hot" as const,
  };
  const optimizer = makeOptimizer("adam", lr);
  clf.fitHead.compile({ optimizer, ...compileArgs(clf.output) });
  const r = await fitLoop(
    clf.fitHead,
    featureSource(sets.train, order) as BatchSource,
    featureSource(sets.val, { ...order, shuffle: false }),
    { epochs, output: clf.output },
  );
  optimizer.dispose();
  return r.rows;
}

Deno.test("logit head at 2η trains exactly like softmax-2 at η from the same decision function", async () => {
  // Softmax-2 is σ(z₁ − z₀): its gradients on the two columns are ±(σ − y)x,
  // so (Keras-rule Adam being odd in the gradient) w₁ − w₀ moves by twice
  // each column's step — the logit head's step at twice the learning rate.
  const soft = await tinyClassifier("softmax", 21);
  const logit = await tinyClassifier("logit", 21);
  const f = soft.featureSize;
  const [w, b] = await weightsOf(soft.fitHead);
  const diff = new Float32Array(f);
  for (let j = 0; j < f; j++) diff[j] = w[2 * j + 1] - w[2 * j];
  setWeights(logit.fitHead, [
    tf.tensor2d(diff, [f, 1]),
    tf.tensor1d([b[1] - b[0]]),
  ]);
  const sets = { train: featureSet(64, f, 31), val: featureSet(24, f, 32) };
  const eta = 1e-3;
  const a = await trainHead(soft, eta, 6, sets);
  const c = await trainHead(logit, 2 * eta, 6, sets);
  // The curves move (the comparison is not of two flat lines).
  assert.ok(a.at(-1)!.loss < 0.8 * a[0].loss, `${a.map((r) => r.loss)}`);
  // Tolerance: the same function computed two ways in float32 (softmax of
  // two logits vs sigmoid of their difference, two kernel columns vs one)
  // differs by float32 rounding only; over 6 epochs × 4 batches of Adam the
  // curves stayed within 4.5e-8 (cpu), so 1e-6 leaves 20× headroom while a
  // wrong learning-rate ratio or loss scale is off by > 1e-2. Accuracies
  // count the same decisions: equal.
  for (let e = 0; e < a.length; e++) {
    for (const k of ["loss", "val_loss"] as const) {
      assert.ok(
        Math.abs(a[e][k] - c[e][k]) < 1e-6,
        `epoch ${e + 1} ${k}: softmax ${a[e][k]} vs logit ${c[e][k]}`,
      );
    }
    assert.equal(a[e].accuracy, c[e].accuracy);
    assert.equal(a[e].val_accuracy, c[e].val_accuracy);
  }
  const logit2 = await tinyClassifier("logit", 21);
  setWeights(logit2.fitHead, [
    tf.tensor2d(diff, [f, 1]),
    tf.tensor1d([b[1] - b[0]]),
  ]);
  const same = await trainHead(logit2, eta, 6, sets);
  // At the same learning rate they differ visibly (measured: 0.51 vs 0.25).
  assert.ok(Math.abs(same.at(-1)!.loss - a.at(-1)!.loss) > 0.1);
  [soft, logit, logit2].forEach(dispose);
});

// ---------------------------------------------------------------------------
// End to end on a 2-class copy of the fixture dataset (cats, dogs).

async function copyDir(
  from: string,
  to: string,
  skip: (name: string) => boolean,
) {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (skip(e.name)) continue;
    if (e.isDirectory) {
      await copyDir(join(from, e.name), join(to, e.name), skip);
    } else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

const twoClassDir = join(env.dir, "two_class");
let twoClassReady: Promise<void> | null = null;
function twoClass(): Promise<void> {
  twoClassReady ??= (async () => {
    const fx = await getFixtures();
    await copyDir(fx.datasetDir, twoClassDir, (name) => name === "horses");
  })();
  return twoClassReady;
}

function logitConfig(overrides: ConfigInput = {}) {
  return env.config({
    data: { url: null, path: twoClassDir },
    model: { head: { output: "logit" } },
    train: { epochs: 5, learningRate: 1e-2 },
    ...overrides,
  });
}

Deno.test("logit head e2e (cpu): outputs, metrics.csv, a saved sigmoid model [n, 1] = σ(logit), ONNX, predict", async () => {
  await twoClass();
  const before = tf.memory().numTensors;
  const config = logitConfig();
  const logs: string[] = [];
  const r = await runTraining(config, {
    log: (l) => logs.push(l),
    progress: quiet,
    isTty: false,
  });
  assert.deepEqual(await listFiles(r.dir), RUN_FILES);
  assert.equal(r.rows.length, 5);
  await checkMetricsCsv(r.dir, r.rows);
  await checkCharts(r.dir, 5);
  const s = r.summary;
  assert.deepEqual(s.classNames, ["cats", "dogs"]);
  assert.equal(s.stopReason, "completed");
  // Learnt: the loss falls from about ln 2 and the training set is fitted.
  const losses = r.rows.map((row) => row.loss);
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses.at(-1)! < 0.5 * losses[0], `losses ${losses}`);
  assert.ok(r.rows.at(-1)!.accuracy >= 0.9, `${r.rows.at(-1)!.accuracy}`);
  // The evaluation reuses the last validation pass: the same accuracy.
  const e = s.evaluation!;
  assert.equal(e.matrix.length, 2);
  e.matrix.forEach((row) => assert.equal(row[0] + row[1], 3));
  assert.equal(e.report.accuracy, r.rows.at(-1)!.val_accuracy);
  const html = await Deno.readTextFile(join(r.dir, "report.html"));
  assert.match(html, /model\.head\.output/);
  const saved = JSON.parse(
    await Deno.readTextFile(join(r.dir, "model", "labels.json")),
  );
  assert.deepEqual(saved, ["cats", "dogs"]);

  // The validation images, decoded as training read them.
  const data = await prepareData({
    ...config.data,
    log: () => {},
    warn: () => {},
  });
  const idx = Array.from({ length: data.validation.count }, (_, i) => i);
  const { xs, ys } = makeBatch(data.validation, idx, mobileNetV2Preprocess);
  ys.dispose();
  const n = xs.shape[0];
  const files: Record<string, Uint8Array> = {};
  for (const name of ["model.json", "weights.bin"]) {
    files[`/${name}`] = await Deno.readFile(join(r.dir, "model", name));
  }
  const server = serve(files);
  try {
    // Plain tf.loadLayersModel, as a browser would: [n, 1] probabilities.
    const plain = await tf.loadLayersModel(`${server.url}/model.json`);
    assert.deepEqual(plain.outputs[0].shape, [null, 1]);
    const probs = await predict(plain, xs);
    assert.equal(probs.length, n);
    assert.ok(probs.every((p) => p > 0 && p < 1), `${probs}`);
    // = sigmoid of the trained model's logit (the Dense before the sigmoid).
    const logitModel = tf.model({
      inputs: r.model.inputs,
      outputs: r.model.getLayer("logits").getOutputAt(0) as tf.SymbolicTensor,
    });
    const logits = await predict(logitModel, xs);
    assert.ok(
      maxAbsDiff(probs, Array.from(logits, sigmoid)) < 1e-6,
      `max |p − σ(logit)| = ${maxAbsDiff(probs, Array.from(logits, sigmoid))}`,
    );
    assert.ok(maxAbsDiff(probs, await predict(r.model, xs)) < 1e-6);
    // The confusion matrix of the run is the one of logit > 0.
    const m = [[0, 0], [0, 0]];
    data.validation.labels.forEach((t, i) => m[t][logits[i] > 0 ? 1 : 0]++);
    assert.deepEqual(m, e.matrix);
    plain.dispose();

    // ONNX Runtime on model.onnx: the same [n, 1] probabilities. Tolerance
    // as in train_e2e_test.ts: BatchNormalization folded into the
    // convolutions changes float32 rounding (~1e-4 after the head).
    const engine = await createOnnxEngine(
      await Deno.readFile(join(r.dir, "model", "model.onnx")),
    );
    try {
      const [out] = await engine.run(
        await xs.data() as Float32Array,
        xs.shape,
      );
      assert.deepEqual(out.shape, [n, 1]);
      assert.ok(maxAbsDiff(out.data, probs) <= 2.5e-4);
      out.data.forEach((p, i) => assert.equal(p > 0.5, probs[i] > 0.5));
    } finally {
      await engine.dispose();
    }

    // predict: two probabilities per image, summing to 1, the larger one's
    // class as the label; the predicted counts are the matrix's columns.
    const model = await loadModel(r.dir);
    const preds = await predictFiles(
      model,
      await collectImageFiles([join(twoClassDir, "validation")]),
    );
    assert.equal(preds.length, n);
    const counts = { cats: 0, dogs: 0 };
    for (const p of preds) {
      assert.ok(!("error" in p));
      if ("error" in p) continue;
      const { cats, dogs } = p.probabilities;
      assert.deepEqual(Object.keys(p.probabilities), ["cats", "dogs"]);
      assert.equal(cats + dogs, 1);
      assert.ok(dogs > 0 && dogs < 1);
      assert.equal(p.label, dogs > cats ? "dogs" : "cats");
      counts[p.label as "cats"]++;
    }
    assert.deepEqual(
      [counts.cats, counts.dogs],
      [e.matrix[0][0] + e.matrix[1][0], e.matrix[0][1] + e.matrix[1][1]],
    );
    model.model.dispose();
  } finally {
    xs.dispose();
    await server.close();
  }
  // Disposing the returned model frees everything the run created.
  r.model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("logit head e2e (cpu): fine-tuning on the cached prefix and on images trains the logit", async () => {
  await twoClass();
  for (const augment of [{}, { flip: "horizontal" as const }]) {
    const r = await runTraining(
      logitConfig({
        train: { epochs: 1, learningRate: 1e-2 },
        fineTune: { enabled: true, fromLayer: 100, epochs: 1 },
        augment,
        output: { onnx: false, topLosses: 0 },
      }),
      { log: () => {}, progress: quiet, isTty: false },
    );
    assert.equal(r.rows.length, 2);
    assert.deepEqual(r.rows.map((row) => row.stage), ["frozen", "fine_tune"]);
    assert.ok(r.rows.every((row) => Number.isFinite(row.val_loss)));
    assert.deepEqual(r.model.outputs[0].shape, [null, 1]);
    r.model.dispose();
  }
});

Deno.test("logit head with 3 classes fails before the model is built, naming model.head.output and the classes", async () => {
  const config = env.config({
    model: { head: { output: "logit" } },
    output: { dir: join(env.dir, "runs-3-classes") },
  });
  await assert.rejects(
    runTraining(config, { log: () => {}, progress: quiet, isTty: false }),
    (err: Error) => {
      assert.match(
        err.message,
        /^model\.head\.output: "logit" needs exactly 2 classes/,
      );
      assert.match(err.message, /the data has 3 \(cats, dogs, horses\)/);
      return true;
    },
  );
  // No run folder was made (output.dir itself may exist: it is checked
  // writable up front).
  const made: string[] = [];
  try {
    for await (const e of Deno.readDir(join(env.dir, "runs-3-classes"))) {
      made.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  assert.deepEqual(made, []);
});

Deno.test("presets: configs/tutorial.json uses the tutorial's logit head, seed.json the softmax one", async () => {
  const root = new URL("../../", import.meta.url);
  const t = await loadConfig(new URL("configs/tutorial.json", root).pathname);
  const s = await loadConfig(new URL("configs/seed.json", root).pathname);
  assert.equal(t.model.head.output, "logit");
  assert.equal(s.model.head.output, "softmax");
});
