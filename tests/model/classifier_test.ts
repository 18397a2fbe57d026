/**
 * The classifier: structure, a frozen base that really stays frozen in `fit`
 * (weights, outputs and every BatchNormalization moving statistic), the same
 * model written with `tf.sequential`, and saved models that load with plain
 * `tf.loadLayersModel`.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import {
  batchNormLayers,
  FreezableBatchNormalization,
  setBatchNormInference,
} from "../../src/model/batch_norm.ts";
import {
  buildClassifier,
  type Classifier,
  type ClassifierOptions,
  setTrainable,
} from "../../src/model/classifier.ts";
import { makeMobileNetV2H5 } from "../../fixtures/make_h5.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

const SIZE = 32;
// Base weights with BatchNormalization statistics far from a batch's own, so
// that a BN running in training mode would visibly change outputs and stats.
const fixture = await makeMobileNetV2H5({ alpha: 0.35, rows: SIZE, seed: 7 });
fixture.model.dispose();

const opts = (o: Partial<ClassifierOptions> = {}): ClassifierOptions => ({
  imageSize: [SIZE, SIZE],
  alpha: 0.35,
  weights: fixture.bytes,
  numClasses: 2,
  dropout: 0.2,
  seed: 1,
  ...o,
});

const images = (n: number, seed: number) =>
  tf.randomUniform([n, SIZE, SIZE, 3], -1, 1, "float32", seed);

/** One epoch of `fit` on 16 random images in batches of 8. */
async function fitEpoch(model: tf.LayersModel) {
  model.compile({
    optimizer: tf.train.adam(1e-2),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const x = images(16, 21);
  const y = tf.oneHot(
    tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0], "int32"),
    2,
  );
  try {
    const h = await model.fit(x, y, {
      epochs: 1,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
    });
    assert.ok(Number.isFinite(h.history.loss[0] as number));
  } finally {
    tf.dispose([x, y]);
  }
}

interface Snapshot {
  out: Float32Array;
  weights: Map<string, Float32Array>;
}

/** The base's output for a fixed input, and every base weight (moving stats included). */
function snapshot(c: Classifier): Snapshot {
  const out = tf.tidy(() =>
    (c.base.predict(images(2, 5)) as tf.Tensor).dataSync() as Float32Array
  );
  const weights = new Map<string, Float32Array>();
  for (const w of c.base.weights) {
    weights.set(w.originalName, w.read().dataSync().slice() as Float32Array);
  }
  return { out, weights };
}

function changed(before: Snapshot, c: Classifier, filter: RegExp): string[] {
  return c.base.weights
    .filter((w) => filter.test(w.originalName))
    .filter((w) => {
      const a = before.weights.get(w.originalName)!;
      const b = w.read().dataSync();
      return a.some((v, i) => v !== b[i]);
    })
    .map((w) => w.originalName);
}

const STATS = /moving_(mean|variance)$/;
const BN_PARAMS = /\/(gamma|beta)$/;

function dispose(c: Classifier) {
  c.model.dispose();
}

Deno.test("structure: input → base → pooling → dropout → softmax Dense; Keras' counts", async () => {
  const c = await buildClassifier(opts({ numClasses: 3 }));
  try {
    assert.deepEqual(c.model.layers.map((l) => l.getClassName()), [
      "InputLayer",
      "Model",
      "GlobalAveragePooling2D",
      "Dropout",
      "Dense",
    ]);
    assert.equal(c.base.layers.length, 154);
    assert.equal(c.featureSize, 1280);
    const dense = c.model.getLayer("predictions");
    assert.equal(dense.getConfig().activation, "softmax");
    assert.equal(c.model.getLayer("dropout").getConfig().rate, 0.2);
    assert.equal(c.model.countParams(), c.base.countParams() + 1280 * 3 + 3);
    // Frozen: only the head trains, and every base layer says so (as in Keras).
    assert.deepEqual(c.model.trainableWeights.map((w) => w.originalName), [
      "predictions/kernel",
      "predictions/bias",
    ]);
    assert.ok(c.base.layers.every((l) => !l.trainable));
    const bns = batchNormLayers(c.base);
    assert.equal(bns.length, 52);
    assert.ok(
      bns.every((l) =>
        l instanceof FreezableBatchNormalization && l.inferenceMode
      ),
    );
    tf.tidy(() => {
      const p = c.model.predict(images(4, 1)) as tf.Tensor;
      assert.deepEqual(p.shape, [4, 3]);
      const sums = tf.sum(p, 1).dataSync();
      sums.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5));
    });
  } finally {
    dispose(c);
  }
  await assert.rejects(
    () => buildClassifier(opts({ numClasses: 0 })),
    /numClasses/,
  );
  await assert.rejects(() => buildClassifier(opts({ dropout: 1 })), /dropout/);
});

Deno.test("frozen base: after an epoch of fit, base outputs and every weight and BN moving mean/variance are unchanged", async () => {
  for (const api of ["functional", "sequential"] as const) {
    const c = await buildClassifier(opts({ api }));
    try {
      const before = snapshot(c);
      const head0 = c.model.getLayer("predictions").getWeights()[0].dataSync()
        .slice();
      await fitEpoch(c.model);
      const after = snapshot(c);
      assert.deepEqual(changed(before, c, /./), [], api);
      assert.equal(before.weights.size, 52 * 5);
      assert.deepEqual(after.out, before.out, api);
      const head1 = c.model.getLayer("predictions").getWeights()[0].dataSync();
      assert.ok(
        head0.some((v, i) => v !== head1[i]),
        `${api}: the head did not train`,
      );
    } finally {
      dispose(c);
    }
  }
});

Deno.test("controls: a trainable base updates BN statistics; TF.js' own frozen BN would too", async () => {
  // The same test setup detects moving statistics changing when they should.
  const c = await buildClassifier(opts({ trainable: true }));
  try {
    const before = snapshot(c);
    await fitEpoch(c.model);
    assert.equal(changed(before, c, STATS).length, 52 * 2);
    assert.ok(changed(before, c, /kernel$/).length > 0);
  } finally {
    dispose(c);
  }
  // TF.js' BatchNormalization runs in training mode in fit even when frozen.
  const input = tf.input({ shape: [4] });
  const bn = tf.layers.batchNormalization({ momentum: 0.5 });
  const out = tf.layers.dense({ units: 2, activation: "softmax" }).apply(
    bn.apply(input),
  ) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  bn.trainable = false;
  m.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
  const x = tf.randomNormal([8, 4], 3, 1, "float32", 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], "int32"), 2);
  const mean0 = bn.getWeights()[2].dataSync().slice();
  await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  const mean1 = bn.getWeights()[2].dataSync();
  assert.ok(
    mean0.some((v, i) => v !== mean1[i]),
    "plain TF.js frozen BN kept its statistics",
  );
  tf.dispose([x, y]);
  m.dispose();
});

Deno.test("batchNormInference: a trainable base trains gamma/beta and kernels but keeps BN statistics", async () => {
  const c = await buildClassifier(
    opts({ trainable: true, batchNormInference: true }),
  );
  try {
    const before = snapshot(c);
    await fitEpoch(c.model);
    assert.deepEqual(changed(before, c, STATS), []);
    assert.ok(changed(before, c, BN_PARAMS).length > 0);
    assert.ok(changed(before, c, /kernel$/).length > 0);
  } finally {
    dispose(c);
  }
});

Deno.test("fine-tuning pattern: unfreeze from layer 100, BN stays in inference mode", async () => {
  const c = await buildClassifier(opts());
  try {
    setTrainable(c.base, true);
    c.base.layers.slice(0, 100).forEach((l) => l.trainable = false);
    setBatchNormInference(c.base, true);
    const before = snapshot(c);
    await fitEpoch(c.model);
    const moved = changed(before, c, /./);
    assert.ok(moved.length > 0);
    const index = new Map(c.base.layers.map((l, i) => [l.name, i]));
    for (const name of moved) {
      assert.ok(
        index.get(name.split("/")[0])! >= 100,
        `${name} changed below layer 100`,
      );
      assert.ok(!STATS.test(name), `${name} changed`);
    }
  } finally {
    dispose(c);
  }
});

async function saveToMemory(
  model: tf.LayersModel,
): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  return artifacts!;
}

const STANDARD_CLASSES = new Set([
  "Model",
  "Sequential",
  "InputLayer",
  "Conv2D",
  "DepthwiseConv2D",
  "BatchNormalization",
  "ReLU",
  "ZeroPadding2D",
  "Add",
  "GlobalAveragePooling2D",
  "Dropout",
  "Dense",
  "VarianceScaling",
  "Zeros",
  "Ones",
]);

Deno.test("saved models use standard class names and load with plain tf.loadLayersModel (functional and sequential)", async () => {
  const registered = tf.serialization.SerializationMap.getMap()
    .classNameMap["BatchNormalization"][0];
  assert.notEqual(registered, FreezableBatchNormalization);
  for (const api of ["functional", "sequential"] as const) {
    const c = await buildClassifier(opts({ api }));
    try {
      await fitEpoch(c.model);
      const artifacts = await saveToMemory(c.model);
      const json = JSON.stringify(artifacts.modelTopology);
      const classes = new Set(
        [...json.matchAll(/"class_name":"([^"]+)"/g)].map((m) => m[1]),
      );
      for (const name of classes) {
        assert.ok(STANDARD_CLASSES.has(name), `${api}: class ${name}`);
      }
      assert.equal(
        (json.match(/"class_name":"BatchNormalization"/g) ?? []).length,
        52,
      );

      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      try {
        const bns = batchNormLayers(loaded);
        assert.equal(bns.length, 52);
        assert.ok(
          bns.every((l) => !(l instanceof FreezableBatchNormalization)),
        );
        // The frozen state is saved too (every base layer's `trainable`).
        assert.equal(loaded.trainableWeights.length, 2);
        tf.tidy(() => {
          const x = images(3, 9);
          const a = (c.model.predict(x) as tf.Tensor).dataSync();
          const b = (loaded.predict(x) as tf.Tensor).dataSync();
          assert.deepEqual(b, a);
        });
        // A loaded model can be given the frozen-BN behaviour too; it still saves as standard.
        assert.equal(setBatchNormInference(loaded, true), 52);
        const again = JSON.stringify(
          (await saveToMemory(loaded)).modelTopology,
        );
        assert.ok(!/Freezable/.test(again));
      } finally {
        loaded.dispose();
      }
    } finally {
      dispose(c);
    }
  }
});

Deno.test("tf.sequential([base, pooling, dropout, dense]) is the same classifier as the functional one", async () => {
  const f = await buildClassifier(opts());
  const s = await buildClassifier(opts({ api: "sequential" }));
  try {
    assert.ok(s.model instanceof tf.Sequential);
    assert.deepEqual(s.model.layers.map((l) => l.name), [
      "mobilenetv2_0.35_32",
      "global_average_pooling2d",
      "dropout",
      "predictions",
    ]);
    assert.equal(s.model.countParams(), f.model.countParams());
    assert.equal(s.model.trainableWeights.length, 2);
    tf.tidy(() => {
      const x = images(3, 2);
      assert.deepEqual(
        (s.model.predict(x) as tf.Tensor).dataSync(),
        (f.model.predict(x) as tf.Tensor).dataSync(),
      );
    });
  } finally {
    dispose(f);
    dispose(s);
  }
});

Deno.test("features and head share the classifier's layers: head(features(x)) = model(x), before and after training the head", async () => {
  const c = await buildClassifier(opts({ numClasses: 3 }));
  try {
    const check = () =>
      tf.tidy(() => {
        const x = images(4, 3);
        const f = c.features.predict(x) as tf.Tensor;
        assert.deepEqual(f.shape, [4, c.featureSize]);
        const a = (c.head.predict(f) as tf.Tensor).dataSync();
        const b = (c.model.predict(x) as tf.Tensor).dataSync();
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6));
        return Array.from(b);
      });
    const p0 = check();
    c.head.compile({
      optimizer: tf.train.adam(0.1),
      loss: "categoricalCrossentropy",
    });
    const fx = tf.randomNormal([8, c.featureSize], 0, 1, "float32", 4);
    const fy = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
    await c.head.fit(fx, fy, { epochs: 2, batchSize: 4, verbose: 0 });
    tf.dispose([fx, fy]);
    const p1 = check();
    assert.notDeepEqual(p1, p0);
  } finally {
    dispose(c);
  }
});
