/**
 * The checks every zoo base (MobileNetV3, EfficientNet) makes against real
 * Keras 3.15's goldens (fixtures/keras/zoo, made by make_zoo_goldens.py),
 * shared by tests/model/{mobilenet_v3,efficientnet}_golden_test.ts:
 *
 * - {@link setGoldenWeights}: every weight from the golden rows;
 * - {@link probesMatchKeras}: the probe layers and the pooled features;
 * - {@link probeTests}: registers that check on cpu, wasm and webgpu;
 * - {@link frozenStageMatchesKeras}: the frozen stage of the training record;
 * - {@link fineTuneMatchesKeras}: its fine-tuning stage.
 *
 * Tolerances are MobileNetV2's (tests/model/keras_golden_test.ts): 1e-4
 * relative per layer, 2e-5 absolute per frozen epoch's loss, 5e-4 per
 * fine-tuning epoch's loss, accuracy equal.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import { probeWebGpu } from "../../src/backend/webgpu_probe.ts";
import { efficientNet } from "../../src/model/efficientnet.ts";
import { kerasLayerNames, mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { setBatchNormInference } from "../../src/model/batch_norm.ts";
import { imageSetFromPixels } from "../../src/data/image_set.ts";
import { tfjsForward } from "../../src/engine/frozen_engine.ts";
import { fitLoop } from "../../src/train/fit.ts";
import { featureSource, imageSource } from "../../src/train/sources.ts";
import {
  onTheFlyPrefix,
  prefixCut,
  prefixModel,
  suffixModel,
} from "../../src/train/_prefix_cache.ts";
import { KerasAdam, KerasRMSprop } from "../../src/train/keras_optimizers.ts";
import {
  fnv1a,
  zooCrop,
  type ZooGoldens,
  zooModelWeights,
  zooPixels,
} from "../../fixtures/keras/zoo/zoo_goldens.ts";

export const TOLERANCE = 1e-4;

/** The zoo models with goldens. */
export type ZooGoldenKey =
  | "mobilenet_v3_small"
  | "mobilenet_v3_large"
  | "efficientnet_b0"
  | "efficientnet_v2_b0";

/**
 * Builds the base of a golden model as Keras did: MobileNetV3 with the
 * manifest's kwargs; EfficientNet B0 with Keras' per-channel Rescaling when
 * its goldens are in the ImageNet layout.
 */
export function goldenBase(
  goldens: ZooGoldens,
  key: ZooGoldenKey,
): tf.LayersModel {
  const m = goldens.manifest.models[key];
  const inputShape: [number, number, number] = [m.size, m.size, 3];
  if (key === "mobilenet_v3_small" || key === "mobilenet_v3_large") {
    return mobileNetV3({
      variant: key === "mobilenet_v3_small" ? "small" : "large",
      inputShape,
      alpha: (m.kwargs.alpha as number) ?? 1,
      minimalistic: (m.kwargs.minimalistic as boolean) ?? false,
    });
  }
  const v2 = key === "efficientnet_v2_b0";
  assert.equal(m.layout, v2 ? "none" : "imagenet");
  return efficientNet({
    variant: "b0",
    v2,
    inputShape,
    imagenetRescaling: m.layout === "imagenet",
  });
}

/** Sets every weight of `model` from the golden rows, layer by layer in Keras' order. */
export function setGoldenWeights(
  goldens: ZooGoldens,
  model: tf.LayersModel,
  key: string,
): void {
  const rows = zooModelWeights(goldens, key);
  const byLayer = new Map<string, typeof rows>();
  for (const r of rows) {
    const layer = r.path.slice(0, r.path.indexOf("/"));
    byLayer.set(layer, [...(byLayer.get(layer) ?? []), r]);
  }
  let used = 0;
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    let want = byLayer.get(layer.name);
    if (layer.name === "normalization") {
      // EfficientNetV2's Normalization holds constants, not weights (ours:
      // already set at build); V1's mean and variance are our moving
      // statistics, its count has no counterpart.
      if (!want) continue;
      assert.deepEqual(want.map((w) => w.path.split("/").pop()), [
        "mean",
        "variance",
        "count",
      ]);
      used += 1;
      want = want.slice(0, 2);
    }
    assert.ok(want, `no golden weights for ${layer.name}`);
    assert.equal(want.length, layer.weights.length, layer.name);
    layer.setWeights(want.map((w, i) => {
      assert.deepEqual(layer.weights[i].shape, w.shape, w.path);
      return tf.tensor(w.values, w.shape);
    }));
    used += want.length;
  }
  assert.equal(used, rows.length, "every golden weight is used");
}

/** max |ours − keras| / max |keras|; fails when Keras' values are all zeros. */
function relativeError(
  name: string,
  ours: ArrayLike<number>,
  keras: Float32Array,
): number {
  assert.equal(ours.length, keras.length, name);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < keras.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - keras[i]));
    scale = Math.max(scale, Math.abs(keras[i]));
  }
  assert.ok(scale > 0, `${name}: Keras output is all zeros`);
  return diff / scale;
}

/**
 * Runs the golden probe images (raw 0–255 pixels: the model carries its
 * scaling) through `base`, which has the golden weights, and checks every
 * probe layer and the pooled features against Keras' within
 * {@link TOLERANCE}. Returns the per-layer report.
 */
export async function probesMatchKeras(
  goldens: ZooGoldens,
  base: tf.LayersModel,
  key: ZooGoldenKey,
  backend: string,
): Promise<string> {
  const m = goldens.manifest.models[key];
  const probe = goldens.manifest.inputs.probe;
  const px = zooPixels(probe.n, probe.labels, m.size);
  assert.equal(fnv1a(px), probe.fnv1a);
  const outputs = m.probe_layers.map((n) =>
    base.getLayer(n).output as tf.SymbolicTensor
  );
  const probeModel = tf.model({ inputs: base.inputs, outputs });
  const x = tf.tensor4d(Float32Array.from(px), [
    probe.n.length,
    m.size,
    m.size,
    3,
  ]);
  const ys = probeModel.predict(x) as tf.Tensor[];
  const out = base.predict(x) as tf.Tensor;
  const report: string[] = [];
  const check = (name: string, ours: Float32Array, keras: Float32Array) => {
    const rel = relativeError(name, ours, keras);
    report.push(`${name} ${rel.toExponential(1)}`);
    assert.ok(
      rel <= TOLERANCE,
      `${backend} ${key} ${name}: relative error ${
        rel.toExponential(2)
      } > ${TOLERANCE}`,
    );
  };
  try {
    for (const [i, layer] of m.probe_layers.entries()) {
      const a = goldens.arrays.get(`${key}/probe/${layer}`)!;
      assert.ok(a, `no golden ${key}/probe/${layer}`);
      const y = ys[i];
      // data(), not dataSync(): WebGPU reads back only asynchronously in Deno.
      let values = await y.data() as Float32Array;
      let shape = y.shape;
      if (a.images!.length < probe.n.length) {
        const per = values.length / probe.n.length;
        values = values.slice(0, per * a.images!.length);
        shape = [a.images!.length, ...shape.slice(1)];
      }
      if (a.crop) values = zooCrop(values, shape, a.crop);
      check(layer, values, a.values);
    }
    const pooled = tf.tidy(() => tf.mean(out, [1, 2]));
    check(
      "pooled",
      await pooled.data() as Float32Array,
      goldens.arrays.get(`${key}/probe/pooled`)!.values,
    );
    pooled.dispose();
  } finally {
    tf.dispose([x, out, ...ys]);
  }
  return `${backend} ${key}: ${report.join(", ")}`;
}

const gpu = await probeWebGpu();

/**
 * Registers, per key, the test "every probe layer and the pooled features
 * match Keras" on cpu, wasm (single-threaded) and webgpu (ignored without an
 * adapter; lavapipe in CI): the golden base built as Keras built it, with
 * Keras' layer count and `params(key)` parameters, then
 * {@link probesMatchKeras}.
 */
export function probeTests(
  goldens: ZooGoldens,
  keys: readonly ZooGoldenKey[],
  params: (key: ZooGoldenKey, kerasParams: number) => number,
): void {
  for (const key of keys) {
    for (const backend of ["cpu", "wasm", "webgpu"] as const) {
      const gpuNote = backend === "webgpu" ? ", lavapipe in CI" : "";
      Deno.test({
        name:
          `${key} @72 px: every probe layer and the pooled features match Keras within 1e-4 relative (${backend}${gpuNote})`,
        ignore: backend === "webgpu" && gpu.adapter == null,
        // The WebGPU device TF.js creates lives for the whole process.
        sanitizeResources: backend !== "webgpu",
        sanitizeOps: backend !== "webgpu",
        fn: async () => {
          await selectBackend(backend, { wasmThreads: false });
          const m = goldens.manifest.models[key];
          const base = goldenBase(goldens, key);
          try {
            assert.equal(kerasLayerNames(base).length, m.layers);
            assert.equal(base.countParams(), params(key, m.params));
            setGoldenWeights(goldens, base, key);
            console.log(await probesMatchKeras(goldens, base, key, backend));
          } finally {
            base.dispose();
            if (backend === "webgpu") await selectBackend("cpu");
          }
        },
      });
    }
  }
}

/** The golden record's 32 training images: their numbers and labels. */
function trainingImages(goldens: ZooGoldens) {
  const [first, end] = goldens.manifest.inputs.train.n;
  const ns = Array.from({ length: end - first }, (_, i) => first + i);
  return { ns, labels: ns.map((n) => n % 2) };
}

/** Dense(2, softmax) named as Keras' head, with the golden weights `at`. */
function goldenHead(
  goldens: ZooGoldens,
  key: ZooGoldenKey,
  at: "head_init" | "keras/frozen",
): tf.layers.Layer {
  const m = goldens.manifest.models[key];
  const dense = tf.layers.dense({
    units: 2,
    activation: "softmax",
    name: "predictions",
  });
  dense.build([null, m.feature_size]);
  dense.setWeights([
    tf.tensor(goldens.arrays.get(`${key}/${at}/kernel`)!.values, [
      m.feature_size,
      2,
    ]),
    tf.tensor(goldens.arrays.get(`${key}/${at}/bias`)!.values, [2]),
  ]);
  return dense;
}

/**
 * The frozen stage of the golden record: the 32 training images' pooled
 * features from our base (checked against Keras' within 1e-4 relative), then
 * Dense(2, softmax) from Keras' initial head, Keras' Adam 1e-3, batch 8 in
 * order, 3 epochs. Per-epoch loss within 2e-5 absolute, accuracy equal, and
 * the head's kernel within 1e-4 of Keras' (12 Adam steps of ~1e-3 each).
 */
export async function frozenStageMatchesKeras(
  goldens: ZooGoldens,
  key: ZooGoldenKey,
): Promise<void> {
  await selectBackend("cpu", { wasmThreads: false });
  const m = goldens.manifest.models[key];
  const spec = goldens.manifest.training;
  const { ns, labels } = trainingImages(goldens);
  const px = zooPixels(ns, labels, m.size);
  assert.equal(fnv1a(px), goldens.manifest.inputs.train.fnv1a);
  const base = goldenBase(goldens, key);
  setGoldenWeights(goldens, base, key);
  const features = tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(px), [
      ns.length,
      m.size,
      m.size,
      3,
    ]);
    return tf.mean(base.predict(x) as tf.Tensor, [1, 2]).dataSync();
  }) as Float32Array;
  base.dispose();
  const rel = relativeError(
    "train features",
    features,
    goldens.arrays.get(`${key}/train/pooled`)!.values,
  );
  assert.ok(rel <= TOLERANCE, `train features: relative error ${rel}`);

  const input = tf.input({ shape: [m.feature_size] });
  const dense = goldenHead(goldens, key, "head_init");
  const head = tf.model({
    inputs: input,
    outputs: dense.apply(input) as tf.SymbolicTensor,
  });
  const optimizer = new KerasAdam(spec.frozen.learning_rate);
  head.compile({
    optimizer,
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const source = featureSource({
    features,
    featureSize: m.feature_size,
    labels: Int32Array.from(labels),
    numClasses: 2,
  }, { batchSize: spec.batch_size, shuffle: false, seed: 0 });
  const { rows } = await fitLoop(head, source, null, {
    epochs: spec.frozen.epochs,
  });
  const keras = m.runs.keras.frozen;
  assert.deepEqual(rows.map((r) => r.accuracy), keras.accuracy);
  rows.forEach((r, i) =>
    assert.ok(
      Math.abs(r.loss - keras.loss[i]) <= 2e-5,
      `${key} epoch ${i + 1}: loss ${r.loss} vs Keras ${keras.loss[i]}`,
    )
  );
  const kernel = dense.getWeights()[0].dataSync();
  const kerasKernel = goldens.arrays.get(`${key}/keras/frozen/kernel`)!.values;
  let dk = 0;
  kerasKernel.forEach((v, i) => (dk = Math.max(dk, Math.abs(kernel[i] - v))));
  console.log(
    `${key}: loss |Δ| ${
      rows.map((r, i) => Math.abs(r.loss - keras.loss[i]).toExponential(1))
    }, head kernel max |Δ| ${dk.toExponential(1)}`,
  );
  assert.ok(dk <= 1e-4, `head kernel max |Δ| ${dk}`);
  optimizer.dispose();
  head.dispose();
}

/**
 * The fine-tuning stage of the golden record, the way runs fine-tune: Keras'
 * frozen head, the base trainable from Keras' `fine_tune.from_layer` (a
 * Keras `model.layers` index, mapped to ours through `kerasLayerNames`) with
 * BatchNormalization pinned to inference; the frozen prefix computed once off
 * the gradient tape per batch (`onTheFlyPrefix`), the suffix model
 * (`suffixModel`: the base from the cut, the pooling, the head) trained by
 * `fitLoop` with Keras' RMSprop 1e-5, batch 8 in order, epochs 4–5. Keras pinned the base's Dropout
 * (EfficientNet's drop-connect) to inference too; TF.js trains Dropout, so
 * the suffix's Dropout rates are set to 0 here. Per-epoch loss within 5e-4
 * absolute, accuracy equal, the same trainable weight count.
 */
export async function fineTuneMatchesKeras(
  goldens: ZooGoldens,
  key: ZooGoldenKey,
  backend: "cpu" | "wasm" = "cpu",
): Promise<void> {
  await selectBackend(backend, { wasmThreads: false });
  const m = goldens.manifest.models[key];
  const spec = goldens.manifest.training;
  const { ns, labels } = trainingImages(goldens);
  const base = goldenBase(goldens, key);
  setGoldenWeights(goldens, base, key);
  const kerasNames = kerasLayerNames(base);
  assert.equal(kerasNames[m.fine_tune.from_layer], m.fine_tune.from_layer_name);
  const from = base.layers.findIndex((l) =>
    l.name === m.fine_tune.from_layer_name
  );
  base.layers.forEach((l, i) => (l.trainable = i >= from));
  setBatchNormInference(base, true);
  for (const l of base.layers.slice(from)) {
    if (l.getClassName() === "Dropout") {
      (l as unknown as { rate: number }).rate = 0;
    }
  }
  const image = tf.input({ shape: [m.size, m.size, 3] });
  const pool = tf.layers.globalAveragePooling2d({});
  const features = tf.model({
    inputs: image,
    outputs: pool.apply(base.apply(image)) as tf.SymbolicTensor,
  });
  const pooled = tf.input({ shape: [m.feature_size] });
  const dense = goldenHead(goldens, key, "keras/frozen");
  const fitHead = tf.model({
    inputs: pooled,
    outputs: dense.apply(pooled) as tf.SymbolicTensor,
  });
  const cut = prefixCut(base, from);
  const model = suffixModel({ base, features, fitHead }, cut);
  const keras = m.runs.keras.fine_tune;
  assert.equal(model.trainableWeights.length, keras.trainable_weights);
  const optimizer = new KerasRMSprop(spec.fine_tune.learning_rate);
  model.compile({
    optimizer,
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  // The pipeline's own prefix-per-batch source: images → the frozen prefix
  // (TF.js) off the tape → the suffix's inputs.
  const images = imageSource(
    imageSetFromPixels({
      classNames: ["0", "1"],
      height: m.size,
      width: m.size,
      pixels: zooPixels(ns, labels, m.size),
      labels: Int32Array.from(labels),
      paths: ns.map((n) => `golden:${n}`),
    }),
    {
      batchSize: spec.batch_size,
      shuffle: false,
      seed: 0,
      preprocess: (x) => tf.clone(x), // the model carries its scaling
    },
  );
  const prefix = prefixModel(base, cut);
  const source = onTheFlyPrefix(images, tfjsForward(prefix), cut);
  const { rows } = await fitLoop(model, source, null, {
    epochs: spec.fine_tune.epochs,
    initialEpoch: spec.frozen.epochs,
  });
  console.log(
    `${key} fine-tune: loss |Δ| ${
      rows.map((r, i) => Math.abs(r.loss - keras.loss[i]).toExponential(1))
    }`,
  );
  assert.deepEqual(rows.map((r) => r.accuracy), keras.accuracy);
  rows.forEach((r, i) =>
    assert.ok(
      Math.abs(r.loss - keras.loss[i]) <= 5e-4,
      `${key} fine-tune epoch ${i + 1}: loss ${r.loss} vs Keras ${
        keras.loss[i]
      }`,
    )
  );
  optimizer.dispose();
  model.dispose();
  features.dispose();
}
