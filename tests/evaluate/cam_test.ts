/**
 * CAM against Keras' Grad-CAM example (GradientTape on the last convolutional
 * activation) on the golden MobileNetV2 0.35@96 with a GAP + Dense(3) head
 * (fixtures/keras/cam/make_cam_goldens.py), on every engine: the TF.js
 * layers model, the fused TF.js graph and ONNX Runtime (the pre-pooling map
 * as a second output).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import {
  camGraphOf,
  classActivationMap,
  normalizeCam,
  rawCam,
} from "../../src/evaluate/cam.ts";
import {
  type FrozenForward,
  fusedForward,
  onnxForward,
  tfjsForward,
} from "../../src/engine/frozen_engine.ts";
import { tryLoadOnnxRuntime } from "../../src/engine/onnx_runtime.ts";
import { mobileNetV2Preprocess } from "../../src/data/batches.ts";
import {
  GOLDEN_DIR,
  goldenModelPath,
  goldenPixels,
  readGoldens,
} from "../../fixtures/keras/goldens.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

/** Normalised heatmaps from Keras' own feature map, absolute. */
const CAM_TOLERANCE = 1e-5;
/**
 * Normalised heatmaps through an engine, absolute: the base's float32 drift
 * (the golden tests' output tolerance, 1e-4 relative) reaches the maps.
 */
const ENGINE_CAM_TOLERANCE = 1e-4;
/** Softmax probabilities, absolute. */
const PROB_TOLERANCE = 1e-5;

interface CamGoldens {
  images: { ns: number[]; labels: number[]; size: number };
  mapShape: [number, number, number];
  probabilities: number[][];
  heatmaps: number[][][][];
  maps: { file: string; images: number };
}

const cam: CamGoldens = JSON.parse(
  await Deno.readTextFile(join(GOLDEN_DIR, "cam", "cam_goldens.json")),
);
const { manifest } = await readGoldens();

/** The head formula of make_cam_goldens.py's `head_weights`. */
function headWeights(cIn: number, k: number) {
  const w = new Float32Array(cIn * k);
  for (let i = 0; i < cIn; i++) {
    for (let c = 0; c < k; c++) {
      w[i * k + c] = 0.05 * (((i * 7 + c * 13) % 23) - 11) / 11;
    }
  }
  const b = Float32Array.from({ length: k }, (_, c) => 0.1 * (c - 1));
  return { w, b };
}

async function goldenClassifier() {
  const clf = await buildClassifier({
    imageSize: [96, 96],
    alpha: 0.35,
    weights: goldenModelPath(manifest, "h5"),
    numClasses: 3,
  });
  const dense = clf.model.getLayer("predictions");
  const { w, b } = headWeights(clf.featureSize, 3);
  dense.setWeights([
    tf.tensor2d(w, [clf.featureSize, 3]),
    tf.tensor1d(b),
  ]);
  return clf;
}

function inputs(): tf.Tensor4D {
  const { ns, labels, size } = cam.images;
  const px = goldenPixels(ns, labels, size);
  return tf.tidy(() =>
    mobileNetV2Preprocess(
      tf.tensor4d(px, [ns.length, size, size, 3], "float32"),
    )
  );
}

const ENGINES: [string, (m: tf.LayersModel) => Promise<FrozenForward>][] = [
  ["tfjs layers", (m) => Promise.resolve(tfjsForward(m))],
  ["tfjs fused", (m) => fusedForward(m)],
];
if ((await tryLoadOnnxRuntime()).ok) {
  ENGINES.push(["onnxruntime", (m) => onnxForward(m, { threads: 1 })]);
} else {
  console.warn("cam_test: ONNX Runtime did not load; its case is skipped");
}

Deno.test(`CAM of Keras' feature map equals Keras' Grad-CAM (GradientTape) within ${CAM_TOLERANCE}`, async () => {
  const bytes = await Deno.readFile(join(GOLDEN_DIR, "cam", cam.maps.file));
  const maps = new Float32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength / 4,
  );
  const [h, w, c] = cam.mapShape;
  assert.equal(maps.length, cam.maps.images * h * w * c);
  const { w: kernel } = headWeights(c, 3);
  const graph = { kernel, units: 3, mapShape: cam.mapShape };
  let max = 0;
  for (let n = 0; n < cam.maps.images; n++) {
    const map = maps.subarray(n * h * w * c, (n + 1) * h * w * c);
    for (let k = 0; k < 3; k++) {
      const heat = classActivationMap(map, graph, k);
      const want = cam.heatmaps[n][k].flat();
      // Not a degenerate map: some zeros (ReLU) and a peak of 1.
      assert.ok(want.includes(1) && want.some((v) => v === 0 || v < 0.5));
      for (let p = 0; p < want.length; p++) {
        max = Math.max(max, Math.abs(heat[p] - want[p]));
      }
    }
  }
  assert.ok(max <= CAM_TOLERANCE, `heatmaps off by ${max}`);
  console.log(
    `CAM vs Grad-CAM on Keras' map: max diff ${max.toExponential(2)}`,
  );
});

for (const [name, make] of ENGINES) {
  Deno.test(`CAM on ${name} equals Keras' Grad-CAM on the golden model within ${ENGINE_CAM_TOLERANCE}`, async () => {
    const clf = await goldenClassifier();
    const graph = await camGraphOf(clf.model);
    assert.deepEqual(graph.mapShape, cam.mapShape);
    assert.equal(graph.units, 3);
    const forward = await make(graph.model);
    const x = inputs();
    try {
      assert.deepEqual(forward.outputShapes, [[3], cam.mapShape]);
      const [probs, maps] = await forward.runAll(x);
      const [h, w, c] = cam.mapShape;
      let maxCam = 0, maxProb = 0;
      cam.images.ns.forEach((_, n) => {
        const map = maps.subarray(n * h * w * c, (n + 1) * h * w * c);
        for (let k = 0; k < 3; k++) {
          maxProb = Math.max(
            maxProb,
            Math.abs(probs[n * 3 + k] - cam.probabilities[n][k]),
          );
          const heat = classActivationMap(map, graph, k);
          const want = cam.heatmaps[n][k].flat();
          for (let p = 0; p < want.length; p++) {
            maxCam = Math.max(maxCam, Math.abs(heat[p] - want[p]));
          }
        }
      });
      assert.ok(maxProb <= PROB_TOLERANCE, `probabilities off by ${maxProb}`);
      assert.ok(maxCam <= ENGINE_CAM_TOLERANCE, `heatmaps off by ${maxCam}`);
      console.log(
        `${name}: max |CAM − Grad-CAM| ${maxCam.toExponential(2)}, max |Δp| ${
          maxProb.toExponential(2)
        }`,
      );
    } finally {
      x.dispose();
      await forward.dispose();
      clf.model.dispose();
    }
  });
}

Deno.test("rawCam is the Dense column applied per position; the logit head's class 0 uses −W", () => {
  // 1×2 map, 2 channels; kernel [2, 2].
  const map = [1, 2, 3, -1];
  const graph = {
    kernel: new Float32Array([1, 0, 0.5, -1]),
    units: 2,
    mapShape: [1, 2, 2] as [number, number, number],
  };
  assert.deepEqual(Array.from(rawCam(map, graph, 0)), [2, 2.5]);
  assert.deepEqual(Array.from(rawCam(map, graph, 1)), [-2, 1]);
  const logit = { ...graph, kernel: new Float32Array([1, 0.5]), units: 1 };
  assert.deepEqual(Array.from(rawCam(map, logit, 1)), [2, 2.5]);
  assert.deepEqual(Array.from(rawCam(map, logit, 0)), [-2, -2.5]);
  assert.deepEqual(Array.from(normalizeCam([-2, -2.5])), [0, 0]);
  assert.throws(() => rawCam(map, logit, 2), /class 2/);
  assert.throws(() => rawCam([1, 2], graph, 0), /expected 1×2×2/);
});

Deno.test("camGraphOf refuses a model without GAP + Dense, naming it", async () => {
  const input = tf.input({ shape: [4, 4, 2] });
  const out = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out, name: "flat" });
  await assert.rejects(
    () => camGraphOf(m),
    /model "flat".*GlobalAveragePooling2D/,
  );
  m.dispose();
});

Deno.test("camGraphOf: the sequential API and the logit head (Dense(1) + sigmoid) work too", async () => {
  for (
    const opts of [
      { api: "sequential" as const, output: "softmax" as const, numClasses: 3 },
      { api: "functional" as const, output: "logit" as const, numClasses: 2 },
    ]
  ) {
    const clf = await buildClassifier({
      imageSize: [32, 32],
      alpha: 0.35,
      weights: null,
      seed: 3,
      dropout: 0.2,
      ...opts,
    });
    const graph = await camGraphOf(clf.model);
    assert.deepEqual(graph.mapShape, [1, 1, 1280]);
    assert.equal(graph.units, opts.output === "logit" ? 1 : 3);
    const x = tf.randomUniform(
      [2, 32, 32, 3],
      -1,
      1,
      "float32",
      1,
    ) as tf.Tensor4D;
    const [probs, map] = graph.model.predict(x) as tf.Tensor[];
    const want = clf.model.predict(x) as tf.Tensor;
    assert.deepEqual(await probs.data(), await want.data());
    // A 1×1 map: the raw CAM is the class score minus the bias.
    const m = await map.data() as Float32Array;
    const scores = tf.tidy(() =>
      (clf.fitHead.predict(tf.reshape(map, [2, 1280])) as tf.Tensor).dataSync()
    );
    const bias = clf.model.getLayer(
      opts.output === "logit" ? "logits" : "predictions",
    )
      .getWeights()[1].dataSync();
    if (opts.output === "logit") {
      const z = rawCam(m.subarray(0, 1280), graph, 1)[0];
      assert.ok(Math.abs(z + bias[0] - scores[0]) < 1e-4);
      assert.equal(rawCam(m.subarray(0, 1280), graph, 0)[0], -z);
    }
    tf.dispose([x, probs, map, want]);
    clf.model.dispose();
  }
});

Deno.test("camGraphOf walks back from the output: a GlobalAveragePooling2D inside a flat base (squeeze-and-excitation) does not count", async () => {
  const input = tf.input({ shape: [4, 4, 3] });
  const conv = tf.layers.conv2d({
    filters: 6,
    kernelSize: 3,
    padding: "same",
    name: "conv",
  }).apply(input) as tf.SymbolicTensor;
  // An SE-like gate: GAP → Dense → Reshape → Multiply, before the head.
  const se = tf.layers.globalAveragePooling2d({ name: "se_pool" })
    .apply(conv) as tf.SymbolicTensor;
  const gate = tf.layers.reshape({ targetShape: [1, 1, 6] }).apply(
    tf.layers.dense({ units: 6, activation: "sigmoid", name: "se_dense" })
      .apply(se),
  ) as tf.SymbolicTensor;
  const scaled = tf.layers.multiply().apply([conv, gate]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: "pool" })
    .apply(scaled) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: "softmax", name: "head" })
    .apply(tf.layers.dropout({ rate: 0.1 }).apply(pooled)) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out, name: "se_net" });
  const graph = await camGraphOf(m);
  assert.deepEqual(graph.mapShape, [4, 4, 6]);
  assert.equal(graph.units, 2);
  const x = tf.randomUniform([1, 4, 4, 3], -1, 1, "float32", 2);
  const [probs, map] = graph.model.predict(x) as tf.Tensor[];
  // The map is the Multiply's output (what "pool" reads), not the conv's.
  const ref = tf.model({ inputs: input, outputs: scaled }).predict(
    x,
  ) as tf.Tensor;
  assert.deepEqual(await map.data(), await ref.data());
  tf.dispose([x, probs, map, ref]);
  m.dispose();
});
