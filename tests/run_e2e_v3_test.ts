/**
 * End to end on the `cpu` backend with MobileNetV3 bases (issue 19): the
 * real training chain (loopback download → unzip → decode → MobileNetV3 @
 * 32 px from a Keras-layout `.h5` made here → train → outputs) on the
 * fixture dataset, frozen (cached features on the default engine, ONNX
 * Runtime) and fine-tuning from a Keras layer index (on the cached frozen
 * prefix). Checks what differs from MobileNetV2: raw 0–255 pixels in
 * (`preprocessing.json` says `"identity"`), the base named in the log and
 * summary, cache entries never shared between bases, Keras' layer indices,
 * the saved model under plain `tf.loadLayersModel` and `model.onnx` in ONNX
 * Runtime.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../src/deps/tf.ts";
import { mobileNetV3 } from "../src/model/mobilenet_v3.ts";
import { kerasLayerNames } from "../src/model/mobilenet_v3.ts";
import { loadModel } from "../src/model/model_io.ts";
import { createOnnxEngine } from "../src/engine/onnx_runtime.ts";
import { predictFiles } from "../src/evaluate/predict.ts";
import { saveKerasWeights } from "../fixtures/keras_h5_writer.ts";
import { randomizeWeights } from "../fixtures/make_h5.ts";
import { FIXTURE_CLASSES } from "../fixtures/make_fixtures.ts";
import {
  calibrateBatchNorm,
  listFiles,
  maxAbsDiff,
  predict,
  RUN_FILES,
  SIZE,
  trainEnv,
  validationImages,
} from "./_helpers/train.ts";
import { serve } from "./_helpers/data.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/**
 * MobileNetV3 (`SIZE` px) with seeded random weights and BatchNormalization
 * statistics calibrated on raw 0–255 inputs layer by layer (as
 * `calibratedH5` does for MobileNetV2), as Keras legacy `.h5` bytes.
 */
async function calibratedV3(
  variant: "small" | "large",
  seed: number,
): Promise<Uint8Array> {
  await tf.setBackend("cpu");
  const model = mobileNetV3({ variant, inputShape: [SIZE, SIZE, 3] });
  randomizeWeights(model, seed);
  const x = tf.randomUniform([16, SIZE, SIZE, 3], 0, 255, "float32", seed);
  calibrateBatchNorm(model, x);
  x.dispose();
  const bytes = await saveKerasWeights(model);
  model.dispose();
  return bytes;
}

const smallWeights = join(env.dir, "v3_small.h5");
await Deno.writeFile(smallWeights, await calibratedV3("small", 3));

const small = {
  model: {
    architecture: "mobilenet_v3_small",
    alpha: 1.0,
    weights: smallWeights,
  },
} as const;

Deno.test("train e2e v3 (cpu): MobileNetV3Small frozen on cached ONNX Runtime features: outputs, identity preprocessing, the base named, saved model = plain tf.loadLayersModel = model.onnx", async () => {
  const cacheDir = join(env.dir, "cache-v3");
  // MobileNetV2 first, into the same cache: V3 must not reuse its features.
  const v2 = await env.run({ data: { cacheDir }, train: { epochs: 1 } });
  v2.model.dispose();
  const r = await env.run({
    ...small,
    data: { cacheDir },
    train: { epochs: 6 },
  });
  try {
    // Teachable Machine's metadata.json is written only for x/127.5-1
    // bases (TM's loader rescales pixels that way); V3 carries its own.
    assert.deepEqual(
      await listFiles(r.dir),
      RUN_FILES.filter((f) => f !== "model/metadata.json"),
    );
    assert.ok(
      r.logs.includes(
        `model: MobileNetV3Small alpha 1 @ ${SIZE}x${SIZE}, weights ${smallWeights}, base frozen, 939,120 parameters`
          .replace("939,120", (939120 + 576 * 3 + 3).toLocaleString("en-US")),
      ),
      r.logs.join("\n"),
    );
    assert.match(r.summary.model, /^MobileNetV3Small α 1, 32×32, frozen base/);
    assert.equal(r.summary.frozenEngine?.engine, "onnxruntime");
    assert.equal(r.summary.featureCache.used, true);
    assert.equal(r.summary.featureCache.reused, false, "not V2's features");
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
    assert.ok(losses.every(Number.isFinite));
    assert.ok(
      Math.min(...losses.slice(-2)) < 0.7 * losses[0],
      `losses ${losses}`,
    );

    // The saved model: loadModel, plain tf.loadLayersModel over HTTP (as a
    // browser), ONNX Runtime on model.onnx — all on raw pixels.
    const { xs, paths } = await validationImages(r.config, { raw: true });
    const files: Record<string, Uint8Array> = {};
    for (const name of ["model.json", "weights.bin"]) {
      files[`/${name}`] = await Deno.readFile(join(r.dir, "model", name));
    }
    const server = serve(files);
    try {
      const inProcess = await predict(r.model, xs);
      const saved = await loadModel(r.dir);
      assert.equal(saved.preprocessing.preprocess, "identity");
      const plain = await tf.loadLayersModel(`${server.url}/model.json`);
      const classes = new Set<string>();
      const visit = (m: tf.LayersModel) =>
        m.layers.forEach((l) =>
          l instanceof tf.LayersModel ? visit(l) : classes.add(l.getClassName())
        );
      visit(plain);
      assert.ok(classes.has("Rescaling") && classes.has("Multiply"));
      assert.equal(maxAbsDiff(inProcess, await predict(saved.model, xs)), 0);
      assert.equal(maxAbsDiff(inProcess, await predict(plain, xs)), 0);
      // `deno task predict`'s step reads preprocessing.json: raw pixels in.
      const predictions = await predictFiles(saved, paths);
      const k = FIXTURE_CLASSES.length;
      const fromFiles = Float32Array.from(
        predictions.flatMap((p) => {
          assert.ok("probabilities" in p, JSON.stringify(p));
          return FIXTURE_CLASSES.map((c) => p.probabilities[c]);
        }),
      );
      assert.equal(fromFiles.length, paths.length * k);
      assert.ok(
        maxAbsDiff(fromFiles, inProcess) <= 1e-6,
        `predictFiles: ${maxAbsDiff(fromFiles, inProcess)}`,
      );
      saved.model.dispose();
      plain.dispose();
      const engine = await createOnnxEngine(
        await Deno.readFile(join(r.dir, "model", "model.onnx")),
      );
      try {
        const [out] = await engine.run(
          await xs.data() as Float32Array,
          xs.shape,
        );
        assert.deepEqual(out.shape, [xs.shape[0], FIXTURE_CLASSES.length]);
        const diff = maxAbsDiff(out.data, inProcess);
        assert.ok(diff <= 1e-4, `max |ONNX − TF.js| = ${diff}`);
      } finally {
        await engine.dispose();
      }
    } finally {
      xs.dispose();
      await server.close();
    }

    // A second run reuses V3's own features.
    const again = await env.run({
      ...small,
      data: { cacheDir },
      train: { epochs: 1 },
    });
    again.model.dispose();
    assert.equal(again.summary.featureCache.reused, true);
    // Same seed, random weights: Small and Large never share an entry.
    const rand = (architecture: string) =>
      env.run({
        model: { architecture, alpha: 1.0, weights: null } as never,
        data: { cacheDir },
        train: { epochs: 1 },
      });
    const s = await rand("mobilenet_v3_small");
    s.model.dispose();
    const l = await rand("mobilenet_v3_large");
    l.model.dispose();
    assert.equal(s.summary.featureCache.reused, false);
    assert.equal(l.summary.featureCache.reused, false);
    assert.match(l.summary.model, /^MobileNetV3Large α 1, /);
  } finally {
    r.model.dispose();
  }
});

Deno.test("train e2e v3 (cpu): MobileNetV3Small fine-tuning from a Keras layer index in the last third, on the cached frozen prefix", async () => {
  const base = mobileNetV3({ variant: "small", inputShape: [SIZE, SIZE, 3] });
  const names = kerasLayerNames(base);
  base.dispose();
  const fromLayer = Math.floor(names.length * 0.7);
  const r = await env.run({
    ...small,
    data: { cacheDir: join(env.dir, "cache-v3-ft") },
    train: { epochs: 2 },
    fineTune: { enabled: true, fromLayer, epochs: 2, learningRate: 1e-3 },
  });
  try {
    assert.equal(r.rows.length, 4);
    assert.ok(r.rows.every((row) => Number.isFinite(row.loss)));
    const line = r.logs.find((l) => l.startsWith("fine-tuning: unfroze"));
    assert.ok(line, r.logs.join("\n"));
    // Our first layer of Keras' layer `fromLayer` (composed parts first).
    const m = /\(from (\S+)\)/.exec(line!)![1];
    assert.ok(
      m === names[fromLayer] || m.startsWith(`${names[fromLayer]}__`),
      `${m} vs Keras' ${names[fromLayer]}`,
    );
    assert.ok(r.logs.some((l) => /^prefix: computed train/.test(l)));
    assert.match(
      r.summary.model,
      new RegExp(`fine-tuned from layer ${fromLayer}`),
    );
    // Only layers from the Keras index on changed.
    const saved = await loadModel(r.dir);
    const fresh = mobileNetV3({
      variant: "small",
      inputShape: [SIZE, SIZE, 3],
    });
    try {
      const { loadKerasWeights } = await import(
        "../src/weights/keras_weights.ts"
      );
      await loadKerasWeights(fresh, smallWeights);
      const trained = saved.model.layers.find((l) =>
        l instanceof tf.LayersModel
      ) as tf.LayersModel;
      let changedBefore = 0;
      let changedAfter = 0;
      const fromIndex = fresh.layers.findIndex((l) => l.name === m);
      fresh.layers.forEach((layer, i) => {
        const other = trained.getLayer(layer.name);
        const a = layer.getWeights();
        const b = other.getWeights();
        const same = a.every((w, k) =>
          maxAbsDiff(w.dataSync(), b[k].dataSync()) === 0
        );
        if (!same) i < fromIndex ? changedBefore++ : changedAfter++;
      });
      assert.equal(changedBefore, 0);
      assert.ok(changedAfter > 0);
    } finally {
      fresh.dispose();
      saved.model.dispose();
    }
  } finally {
    r.model.dispose();
  }
});
