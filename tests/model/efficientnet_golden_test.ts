/**
 * EfficientNetB0 (in the ImageNet layout, with Keras' per-channel
 * `Rescaling` after its `Normalization`) and EfficientNetV2B0 against real
 * Keras 3.15 (fixtures/keras/zoo, made by make_zoo_goldens.py): formula
 * weights with calibrated BatchNormalization statistics at 72 px, the probe
 * layers' outputs and the pooled features on two formula images fed as raw
 * 0–255 pixels (the model carries its Rescaling and Normalization).
 *
 * Tolerance: relative error max|ours − Keras| / max|Keras| per layer ≤ 1e-4,
 * as for MobileNetV2/V3: float32 sums in another order, the Normalization as
 * (x − mean)·rsqrt(variance + 1e-14) where Keras divides by
 * max(√variance, 1e-7).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { efficientNet } from "../../src/model/efficientnet.ts";
import { kerasLayerNames } from "../../src/model/mobilenet_v3.ts";
import {
  fnv1a,
  readZooGoldens,
  zooCrop,
  zooModelWeights,
  zooPixels,
} from "../../fixtures/keras/zoo/zoo_goldens.ts";

silenceNodeBanner();
const goldens = await readZooGoldens();
const TOLERANCE = 1e-4;

/** Sets every weight of `model` from the golden rows, layer by layer in Keras' order. */
function setGoldenWeights(model: tf.LayersModel, key: string) {
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
      // V2's Normalization holds constants, not weights (ours: already set
      // at build); V1's mean and variance are our moving statistics, its
      // count has no counterpart.
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

async function matchesKeras(
  key: "efficientnet_b0" | "efficientnet_v2_b0",
  backend: "cpu" | "wasm",
) {
  await selectBackend(backend, { wasmThreads: false });
  const m = goldens.manifest.models[key];
  const probe = goldens.manifest.inputs.probe;
  const px = zooPixels(probe.n, probe.labels, m.size);
  assert.equal(fnv1a(px), probe.fnv1a);
  const v2 = key === "efficientnet_v2_b0";
  // efficientnet_b0's goldens are in the ImageNet layout: with Keras'
  // per-channel Rescaling (rescaling_1) after the Normalization.
  assert.equal(m.layout, v2 ? "none" : "imagenet");
  const base = efficientNet({
    variant: "b0",
    v2,
    inputShape: [m.size, m.size, 3],
    imagenetRescaling: !v2,
  });
  try {
    assert.equal(kerasLayerNames(base).length, m.layers);
    assert.equal(base.countParams(), m.params + (v2 ? 6 : -1));
    setGoldenWeights(base, key);
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
      assert.equal(ours.length, keras.length, name);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < keras.length; i++) {
        diff = Math.max(diff, Math.abs(ours[i] - keras[i]));
        scale = Math.max(scale, Math.abs(keras[i]));
      }
      assert.ok(scale > 0, `${name}: Keras output is all zeros`);
      report.push(`${name} ${(diff / scale).toExponential(1)}`);
      assert.ok(
        diff / scale <= TOLERANCE,
        `${backend} ${key} ${name}: relative error ${
          (diff / scale).toExponential(2)
        } > ${TOLERANCE}`,
      );
    };
    m.probe_layers.forEach((layer, i) => {
      const a = goldens.arrays.get(`${key}/probe/${layer}`)!;
      assert.ok(a, `no golden ${key}/probe/${layer}`);
      const y = ys[i];
      let values = y.dataSync() as Float32Array;
      let shape = y.shape;
      if (a.images!.length < probe.n.length) {
        const per = values.length / probe.n.length;
        values = values.slice(0, per * a.images!.length);
        shape = [a.images!.length, ...shape.slice(1)];
      }
      if (a.crop) values = zooCrop(values, shape, a.crop);
      check(layer, values, a.values);
    });
    const pooled = tf.mean(out, [1, 2]);
    check(
      "pooled",
      pooled.dataSync() as Float32Array,
      goldens.arrays.get(`${key}/probe/pooled`)!.values,
    );
    tf.dispose([x, pooled, out, ...ys]);
    console.log(`${backend} ${key}: ${report.join(", ")}`);
  } finally {
    base.dispose();
  }
}

for (const key of ["efficientnet_b0", "efficientnet_v2_b0"] as const) {
  for (const backend of ["cpu", "wasm"] as const) {
    Deno.test(`${key} @72 px: every probe layer and the pooled features match Keras within 1e-4 relative (${backend})`, async () => {
      await matchesKeras(key, backend);
    });
  }
}
