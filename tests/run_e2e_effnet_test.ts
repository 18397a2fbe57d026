/**
 * End to end on the `cpu` backend with EfficientNetB0 and EfficientNetV2B0
 * bases (issue 19), from random weights (`model.weights: null`; loading
 * Keras weights into them is not in yet): the real training chain
 * (loopback download → unzip → decode → base @ 32 px → train → outputs) on
 * the fixture dataset with a frozen base. Checks raw 0–255 pixels in
 * (`preprocessing.json` says `"identity"`), the base named in the summary,
 * the frozen engine (`auto`: ONNX Runtime), finite losses, the saved model
 * under plain `tf.loadLayersModel` computing what the run's model computes,
 * its ONNX export (`model/model.onnx`) written;
 * fine-tuning from a Keras layer index in the last third on both training
 * engines.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../src/deps/tf.ts";
import { baseNetwork, kerasLayerIndex } from "../src/model/bases.ts";
import { kerasLayerNames } from "../src/model/mobilenet_v3.ts";
import {
  maxAbsDiff,
  predict,
  SIZE,
  trainEnv,
  validationImages,
} from "./_helpers/train.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

for (
  const [architecture, display] of [
    ["efficientnet_b0", "EfficientNetB0"],
    ["efficientnet_v2_b0", "EfficientNetV2B0"],
  ] as const
) {
  Deno.test(`train e2e ${architecture} (cpu): frozen from random weights: identity preprocessing, the base named, finite losses, saved model = plain tf.loadLayersModel`, async () => {
    const r = await env.run({
      model: { architecture, alpha: 1, weights: null },
      data: { cacheDir: join(env.dir, `cache-${architecture}`) },
      train: { epochs: 2 },
    });
    try {
      assert.match(
        r.summary.model,
        new RegExp(`^${display}, ${SIZE}×${SIZE}, frozen base`),
      );
      const engine = r.summary.frozenEngine;
      // engine.frozen "auto" on cpu: ONNX Runtime lowers every layer.
      assert.equal(engine?.engine, "onnxruntime", JSON.stringify(engine));
      const onnx = await Deno.stat(join(r.dir, "model", "model.onnx"));
      assert.ok(onnx.size > 1e6, `model.onnx ${onnx.size} bytes`);
      assert.deepEqual(
        JSON.parse(
          await Deno.readTextFile(join(r.dir, "model/preprocessing.json")),
        ),
        {
          imageSize: [SIZE, SIZE],
          interpolation: r.config.data.interpolation,
          preprocess: "identity",
        },
      );
      const losses = r.rows.map((row) => row.loss);
      assert.equal(losses.length, 2);
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      const { xs } = await validationImages(r.config, { raw: true });
      const plain = await tf.loadLayersModel(
        `file://${join(r.dir, "model", "model.json")}`,
      ).catch(async () => {
        const json = JSON.parse(
          await Deno.readTextFile(join(r.dir, "model", "model.json")),
        );
        const bin = await Deno.readFile(join(r.dir, "model", "weights.bin"));
        return tf.loadLayersModel(tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.buffer,
        }));
      });
      const ours = await predict(r.model, xs);
      assert.equal(maxAbsDiff(ours, await predict(plain, xs)), 0);
      plain.dispose();
      xs.dispose();
    } finally {
      r.model.dispose();
    }
  });
}

for (const trainEngine of ["tfjs", "onnxruntime"] as const) {
  Deno.test(`train e2e efficientnet_b0 (cpu): fine-tuning from a Keras layer index in the last third (engine.train ${trainEngine})`, async () => {
    const base = baseNetwork({
      architecture: "efficientnet_b0",
      inputShape: [SIZE, SIZE, 3],
    });
    const names = kerasLayerNames(base);
    const fromLayer = Math.floor(names.length * 0.7);
    assert.equal(
      base.layers[kerasLayerIndex(base, fromLayer)].name,
      names[fromLayer],
    );
    base.dispose();
    const r = await env.run({
      model: { architecture: "efficientnet_b0", alpha: 1, weights: null },
      engine: { frozen: "auto", train: trainEngine },
      output: { onnx: false },
      data: { cacheDir: join(env.dir, `cache-effnet-ft-${trainEngine}`) },
      train: { epochs: 1 },
      fineTune: { enabled: true, fromLayer, epochs: 1, learningRate: 1e-3 },
    });
    try {
      assert.equal(r.rows.length, 2);
      assert.ok(r.rows.every((row) => Number.isFinite(row.loss)));
      const line = r.logs.find((l) => l.startsWith("fine-tuning: unfroze"));
      assert.ok(line, r.logs.join("\n"));
      assert.equal(/\(from (\S+)\)/.exec(line!)![1], names[fromLayer]);
      assert.match(
        r.summary.model,
        new RegExp(`fine-tuned from layer ${fromLayer}`),
      );
      assert.equal(r.summary.trainEngine?.engine, trainEngine);
    } finally {
      r.model.dispose();
    }
  });
}
