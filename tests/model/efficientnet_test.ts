import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  efficientNet,
  type EfficientNetVariant,
} from "../../src/model/efficientnet.ts";
import { kerasLayerNames } from "../../src/model/mobilenet_v3.ts";
import { readKerasZooManifest } from "../_helpers/keras_zoo_manifest.ts";

const manifests = await readKerasZooManifest();

/** The TF.js class that stands for a Keras layer (see efficientnet.ts). */
function tfjsClass(kerasClass: string): string {
  return kerasClass === "Normalization" ? "BatchNormalization" : kerasClass;
}

for (const v2 of [false, true]) {
  for (const variant of ["b0", "b1", "b2", "b3"] as EfficientNetVariant[]) {
    const key = v2 ? `efficientnet_v2_${variant}` : `efficientnet_${variant}`;
    Deno.test(`efficientNet: ${key} at 96 px has Keras' layers, names, order, classes, shapes, configs and weights`, () => {
      const m = manifests.get(key)!;
      assert.ok(m, `${key} missing from layers.jsonl`);
      const model = efficientNet({ variant, v2, inputShape: [96, 96, 3] });
      try {
        // Keras' Normalization: V1's count weight has no counterpart (−1),
        // V2's mean/variance constants are our BN's moving statistics (+6).
        assert.equal(model.countParams(), m.params + (v2 ? 6 : -1));
        const names = kerasLayerNames(model);
        assert.equal(names.length, m.layers);
        assert.deepEqual(names, m.nodes.map((n) => n.name));
        assert.equal(model.layers.length, m.nodes.length);
        model.layers.forEach((l, i) => {
          const n = m.nodes[i];
          const cfg = { ...m.class_config[n.class], ...n.config };
          const where = `${key} ${n.name}`;
          const c = l.getConfig();
          assert.equal(l.getClassName(), tfjsClass(n.class), where);
          assert.deepEqual(l.outputShape, n.out, where);
          if (n.class === "Normalization") {
            // BN moving mean/variance for Keras' mean/variance (+ V1's count).
            assert.deepEqual(l.weights.map((w) => w.shape), [[3], [3]], where);
            assert.equal(l.trainable, false, where);
            if (v2) {
              const [mean, variance] = l.getWeights();
              const near = (
                a: Float32Array | Int32Array | Uint8Array,
                b: number[],
              ) =>
                Array.from(a).forEach((v, k) =>
                  assert.ok(Math.abs(v - b[k]) < 1e-7, where)
                );
              near(mean.dataSync(), cfg.mean as number[]);
              near(variance.dataSync(), cfg.variance as number[]);
            }
            return;
          }
          assert.deepEqual(
            l.weights.map((w) => w.shape),
            (n.weights ?? []).map((w) => w[1]),
            where,
          );
          if (n.class === "Conv2D" || n.class === "DepthwiseConv2D") {
            assert.deepEqual(c.kernelSize, cfg.kernel_size, where);
            assert.deepEqual(c.strides, cfg.strides, where);
            assert.equal(c.padding, cfg.padding, where);
            assert.equal(c.useBias, cfg.use_bias, where);
            const act = cfg.activation === "silu" ? "swish" : cfg.activation;
            assert.equal(c.activation, act, where);
          }
          if (n.class === "Activation") {
            assert.equal(cfg.activation, "silu", where);
            assert.equal(c.activation, "swish", where);
          }
          if (n.class === "ZeroPadding2D") {
            assert.deepEqual(c.padding, cfg.padding, where);
          }
          if (n.class === "Reshape") {
            assert.deepEqual(c.targetShape, cfg.target_shape, where);
          }
          if (n.class === "Rescaling") {
            assert.equal(c.scale, cfg.scale, where);
            assert.equal(c.offset, cfg.offset, where);
          }
          if (n.class === "Dropout") {
            assert.ok(
              Math.abs((c.rate as number) - (cfg.rate as number)) < 1e-12,
              where,
            );
            assert.deepEqual(c.noiseShape, cfg.noise_shape, where);
          }
          if (n.class === "BatchNormalization") {
            assert.equal(c.epsilon, cfg.epsilon, where);
            assert.equal(c.momentum, cfg.momentum, where);
          }
        });
      } finally {
        model.dispose();
      }
    });
  }
}

Deno.test("efficientNet: swish is x·sigmoid(x), Normalization is (x − mean)/√variance, drop-connect is identity at inference", () => {
  const model = efficientNet({
    variant: "b0",
    v2: true,
    inputShape: [32, 32, 3],
    seed: 1,
  });
  try {
    const x = tf.tensor4d([-3, -0.5, 0, 0.5, 3, 8], [1, 1, 2, 3]);
    const s = model.getLayer("stem_activation").apply(x) as tf.Tensor;
    Array.from(s.dataSync()).forEach((v, i) => {
      const t = x.dataSync()[i];
      const want = t / (1 + Math.exp(-t));
      assert.ok(
        Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want)),
        `swish(${t})`,
      );
    });
    const nrm = model.getLayer("normalization").apply(x) as tf.Tensor;
    const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
    Array.from(nrm.dataSync()).forEach((v, i) => {
      const want = (x.dataSync()[i] - mean[i % 3]) / std[i % 3];
      assert.ok(
        Math.abs(v - want) <= 1e-6 * Math.abs(want),
        `normalization ${i}: ${v} vs ${want}`,
      );
    });
    const d = model.getLayer("block2b_drop").apply(x) as tf.Tensor;
    assert.deepEqual(Array.from(d.dataSync()), Array.from(x.dataSync()));
    tf.dispose([x, s, nrm, d]);
  } finally {
    model.dispose();
  }
});

Deno.test("efficientNet: a saved model (with the ImageNet per-channel Rescaling) loads with plain tf.loadLayersModel and computes the same", async () => {
  const model = efficientNet({
    variant: "b0",
    inputShape: [32, 32, 3],
    imagenetRescaling: true,
    seed: 3,
  });
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  try {
    assert.equal(model.layers[3].name, "rescaling_1");
    assert.deepEqual(
      loaded.getLayer("rescaling_1").getConfig().scale,
      [0.229, 0.224, 0.225].map((s) => 1 / Math.sqrt(s)),
    );
    const classes = new Set(loaded.layers.map((l) => l.getClassName()));
    assert.deepEqual([...classes].sort(), [
      "Activation",
      "Add",
      "BatchNormalization",
      "Conv2D",
      "DepthwiseConv2D",
      "Dropout",
      "GlobalAveragePooling2D",
      "InputLayer",
      "Multiply",
      "Rescaling",
      "Reshape",
      "ZeroPadding2D",
    ]);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 255, "float32", 3);
    const r = loaded.getLayer("rescaling_1").apply(
      tf.ones([1, 1, 1, 3]),
    ) as tf.Tensor;
    assert.deepEqual(
      Array.from(r.dataSync()),
      Array.from(
        new Float32Array([0.229, 0.224, 0.225].map((s) => 1 / Math.sqrt(s))),
      ),
    );
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    tf.dispose([x, a, b, r]);
  } finally {
    model.dispose();
    loaded.dispose();
  }
});
