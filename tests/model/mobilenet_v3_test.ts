import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { kerasLayerNames, mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { readKerasZooManifest } from "../_helpers/keras_zoo_manifest.ts";

const manifests = await readKerasZooManifest();

/** The TF.js class that stands for a Keras node (see mobilenet_v3.ts). */
function tfjsClass(
  kerasClass: string,
  isLayer: boolean,
  activation: unknown,
): string {
  if (!isLayer) return "Rescaling"; // the SE gate's x + 3 and x · (1/6)
  if (kerasClass === "Activation" && activation === "hard_silu") {
    return "Multiply";
  }
  if (kerasClass === "GlobalAveragePooling2D") return "Reshape"; // keepdims
  return kerasClass;
}

for (
  const key of [
    "mobilenet_v3_small",
    "mobilenet_v3_small_0.75",
    "mobilenet_v3_small_minimalistic",
    "mobilenet_v3_large",
    "mobilenet_v3_large_0.75",
    "mobilenet_v3_large_minimalistic",
  ]
) {
  Deno.test(`mobileNetV3: ${key} at 96 px has Keras' layers, names, order, classes, shapes and weights`, () => {
    const m = manifests.get(key)!;
    assert.ok(m, `${key} missing from layers.jsonl`);
    const model = mobileNetV3({
      variant: m.arch === "mobilenet_v3_small" ? "small" : "large",
      inputShape: [96, 96, 3],
      alpha: m.kwargs.alpha as number,
      minimalistic: m.kwargs.minimalistic as boolean,
    });
    try {
      assert.equal(model.countParams(), m.params);
      const names = kerasLayerNames(model);
      assert.equal(names.length, m.layers);
      assert.deepEqual(
        names,
        m.nodes.filter((n) => n.layer !== null).map((n) => n.name),
      );
      // Every Keras operation (layers and the ops that are not) in order.
      const ours = model.layers.filter((l) => !l.name.includes("__"));
      assert.deepEqual(ours.map((l) => l.name), m.nodes.map((n) => n.name));
      ours.forEach((l, i) => {
        const n = m.nodes[i];
        const cfg = { ...m.class_config[n.class], ...n.config };
        const where = `${key} ${n.name}`;
        assert.equal(
          l.getClassName(),
          tfjsClass(n.class, n.layer !== null, cfg.activation),
          where,
        );
        assert.deepEqual(l.outputShape, n.out, where);
        assert.deepEqual(
          l.weights.map((w) => w.shape),
          (n.weights ?? []).map((w) => w[1]),
          where,
        );
        if (n.class === "ReLU") {
          assert.equal(
            l.getConfig().maxValue ?? null,
            cfg.max_value ?? null,
            where,
          );
        }
        if (n.class === "Conv2D" || n.class === "DepthwiseConv2D") {
          const c = l.getConfig();
          assert.deepEqual(c.kernelSize, cfg.kernel_size, where);
          assert.deepEqual(c.strides, cfg.strides, where);
          assert.equal(c.padding, cfg.padding, where);
          assert.equal(c.useBias, cfg.use_bias, where);
        }
        if (n.class === "ZeroPadding2D") {
          assert.deepEqual(l.getConfig().padding, cfg.padding, where);
        }
        if (n.class === "BatchNormalization") {
          assert.equal(l.getConfig().epsilon, cfg.epsilon, where);
          assert.equal(l.getConfig().momentum, cfg.momentum, where);
        }
      });
    } finally {
      model.dispose();
    }
  });
}

Deno.test("mobileNetV3: hard_silu and the SE gate compose to Keras' values (keras_facts.json)", async () => {
  const facts = JSON.parse(
    await Deno.readTextFile(
      new URL("../../fixtures/keras/zoo/keras_facts.json", import.meta.url),
    ),
  ).activations;
  const model = mobileNetV3({ variant: "small", inputShape: [32, 32, 3] });
  try {
    // Run one hard_silu composition (activation) and one SE gate (add → re_lu_1 → multiply) alone.
    const x = tf.tensor4d(facts.x, [1, 1, facts.x.length, 1]);
    const apply = (names: string[], t: tf.Tensor) =>
      names.reduce((v, n) => model.getLayer(n).apply(v) as tf.Tensor, t);
    const gate = apply(["add", "re_lu_1", "multiply"], x);
    assert.deepEqual(
      Array.from(gate.dataSync()),
      facts["mobilenet_v3_se_hard_sigmoid (ReLU(6)(x + 3) * (1/6))"],
    );
    const hs = apply([
      "activation__add3",
      "activation__relu6",
      "activation__div6",
    ], x);
    const silu = (model.getLayer("activation").apply([x, hs]) as tf.Tensor)
      .dataSync();
    Array.from(silu).forEach((v, i) => {
      const want = facts.hard_silu.values[i];
      assert.ok(
        Math.abs(v - want) <= 1e-7 * Math.max(1, Math.abs(want)),
        `hard_silu(${facts.x[i]}) = ${v}, Keras ${want}`,
      );
    });
    tf.dispose([x, gate, hs]);
  } finally {
    model.dispose();
  }
});

Deno.test("mobileNetV3: inputs under 32 px are rejected as Keras does", () => {
  assert.throws(
    () => mobileNetV3({ variant: "large", inputShape: [31, 31, 3] }),
    /Input size must be at least 32x32/,
  );
});

Deno.test("mobileNetV3: a saved model loads with plain tf.loadLayersModel (only TF.js' own layer classes) and computes the same", async () => {
  const model = mobileNetV3({
    variant: "small",
    inputShape: [32, 32, 3],
    seed: 7,
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
    const classes = new Set(loaded.layers.map((l) => l.getClassName()));
    assert.deepEqual([...classes].sort(), [
      "Add",
      "BatchNormalization",
      "Conv2D",
      "DepthwiseConv2D",
      "GlobalAveragePooling2D",
      "InputLayer",
      "Multiply",
      "ReLU",
      "Rescaling",
      "Reshape",
      "ZeroPadding2D",
    ]);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 255, "float32", 3);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  } finally {
    model.dispose();
    loaded.dispose();
  }
});
