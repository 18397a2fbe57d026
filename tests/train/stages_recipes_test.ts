/**
 * The training recipes end to end through `trainStages`, against tiny Keras
 * 3.15 fits (`fixtures/keras/recipes/make_recipe_goldens.py`): a Dense head
 * on fixed features, batch 8 without shuffling, Adam with a CosineDecay
 * warmup schedule, class_weight "balanced" and label smoothing 0.1.
 */
import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import type { BuiltModel } from "../../src/model/build.ts";
import { trainStages } from "../../src/train/stages.ts";
import { featureSource } from "../../src/train/sources.ts";
import { classCounts, classWeights } from "../../src/train/class_weight.ts";
import { labelEncodingOf } from "../../src/train/head_output.ts";
import type { TrainingInputs } from "../../src/train/inputs.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import { assertClose, recipeGoldens } from "../_helpers/recipe_goldens.ts";

await tf.setBackend("cpu");
const goldens = await recipeGoldens();
// float32 on both sides, different kernels: observed ≤ 3e-7; the bound is 1e-5.
const RTOL = 1e-5;

/** The inputs of a frozen stage on cached features (no fine-tuning). */
function headInputs(
  train: TrainingInputs["train"],
  validation: TrainingInputs["validation"],
  trainModel: tf.LayersModel,
): TrainingInputs {
  return {
    train,
    validation,
    trainModel,
    images: { train, validation },
    featureCache: { used: true, reused: false, reason: "test features" },
    frozenEngine: null,
    fineTune: null,
    dispose: () => Promise.resolve(),
  };
}

for (const g of goldens.fits) {
  Deno.test(`trainStages (${g.head} head): Adam + cosine warmup + balanced class weights + label smoothing follow Keras' fit within ${RTOL}`, async () => {
    const k = g.head === "softmax" ? 3 : 2;
    const names = g.head === "softmax" ? ["a", "b", "c"] : ["neg", "pos"];
    const weights = classWeights(
      "balanced",
      names,
      classCounts(g.labels, k),
    )!;
    assertClose(weights, g.class_weight, 1e-12, 0, "balanced weights");
    const s = g.schedule;
    const config = ConfigSchema.parse({
      data: { batchSize: g.batch_size, shuffle: false },
      model: { head: { output: g.head } },
      train: {
        epochs: g.epochs,
        optimizer: "adam",
        learningRate: s.warmup_target,
        classWeight: "balanced",
        labelSmoothing: g.label_smoothing,
        lrSchedule: {
          type: "cosine",
          warmupSteps: s.warmup_steps,
          warmupFrom: s.initial_learning_rate,
          alpha: s.alpha,
        },
      },
    });
    const units = g.head === "softmax" ? 3 : 1;
    const head = tf.sequential({
      layers: [tf.layers.dense({
        inputShape: [g.features[0].length],
        units,
        activation: g.head === "softmax" ? "softmax" : "linear",
      })],
    });
    head.layers[0].setWeights([tf.tensor2d(g.kernel), tf.tensor1d(g.bias)]);
    const set = (x: number[][], y: number[]) => ({
      features: Float32Array.from(x.flat()),
      featureSize: x[0].length,
      labels: Int32Array.from(y),
      numClasses: k,
    });
    const opts = {
      batchSize: g.batch_size,
      shuffle: false,
      seed: 0,
      labels: labelEncodingOf(g.head),
    };
    const inputs = headInputs(
      featureSource(set(g.features, g.labels), opts),
      featureSource(set(g.val_features, g.val_labels), opts),
      head,
    );
    const rows: MetricsRow[] = [];
    const lines: string[] = [];
    const result = await trainStages(
      config,
      // Only fine-tuning reads the built classifier; it is off here.
      null as unknown as BuiltModel,
      inputs,
      {
        rows: [],
        onEpoch: (r) => Promise.resolve(void rows.push(r)),
        log: (l) => lines.push(l),
        classWeights: weights,
      },
    );
    assert.equal(result.stopReason, "completed");
    assert.equal(rows.length, g.epochs);
    assertClose(rows.map((r) => r.loss), g.loss, RTOL, 0, "loss");
    assertClose(rows.map((r) => r.val_loss), g.val_loss, RTOL, 0, "val_loss");
    // The optimizer's rate at each epoch's end, as Keras reads it there.
    assertClose(
      rows.map((r) => r.lr!),
      g.epoch_end_learning_rate,
      1e-6,
      0,
      "lr",
    );
    const [kernel, bias] = head.getWeights();
    assertClose(kernel.dataSync(), g.kernel_after.flat(), RTOL, 1e-7, "kernel");
    assertClose(bias.dataSync(), g.bias_after, RTOL, 1e-7, "bias");
    assert.match(
      lines.join("\n"),
      /learning rate: cosine schedule from 0\.01 over 9 steps/,
    );
    head.dispose();
  });
}

Deno.test("trainStages: without the recipes, the lr column is the constant rate and the loss Keras' plain one", async () => {
  const g = goldens.fits[0];
  const config = ConfigSchema.parse({
    train: { epochs: 2, learningRate: 1e-3 },
  });
  const head = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 3, activation: "softmax" }),
    ],
  });
  head.layers[0].setWeights([tf.tensor2d(g.kernel), tf.tensor1d(g.bias)]);
  const source = featureSource({
    features: Float32Array.from(g.features.flat()),
    featureSize: 5,
    labels: Int32Array.from(g.labels),
    numClasses: 3,
  }, { batchSize: 8, shuffle: false, seed: 0 });
  const rows: MetricsRow[] = [];
  await trainStages(
    config,
    null as unknown as BuiltModel,
    headInputs(source, source, head),
    {
      rows: [],
      onEpoch: (r) => Promise.resolve(void rows.push(r)),
      log: () => {},
    },
  );
  assert.deepEqual(rows.map((r) => r.lr), [1e-3, 1e-3]);
  assert.equal(head.loss, "categoricalCrossentropy");
  head.dispose();
});

Deno.test("trainStages: ReduceLROnPlateau lowers the rate after a plateau, the lr column shows it", async () => {
  const g = goldens.fits[0];
  const config = ConfigSchema.parse({
    train: {
      epochs: 4,
      learningRate: 1e-9,
      reduceLrOnPlateau: {
        enabled: true,
        patience: 1,
        factor: 0.5,
        minDelta: 1,
      },
    },
  });
  const head = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 3, activation: "softmax" }),
    ],
  });
  const source = featureSource({
    features: Float32Array.from(g.features.flat()),
    featureSize: 5,
    labels: Int32Array.from(g.labels),
    numClasses: 3,
  }, { batchSize: 8, shuffle: false, seed: 0 });
  const rows: MetricsRow[] = [];
  const lines: string[] = [];
  const result = await trainStages(
    config,
    null as unknown as BuiltModel,
    headInputs(source, source, head),
    {
      rows: [],
      onEpoch: (r) => Promise.resolve(void rows.push(r)),
      log: (l) => lines.push(l),
    },
  );
  // minDelta 1: no epoch improves on the first, so each later one reduces
  // the rate (float32, as Keras holds it), which the next row shows (a row
  // has the rate before its epoch's decision, as Keras logs it).
  const f = Math.fround;
  const half = f(f(1e-9) * 0.5);
  assert.deepEqual(rows.map((r) => r.lr), [1e-9, 1e-9, half, f(half * 0.5)]);
  assert.equal(lines.filter((l) => l.includes("ReduceLROnPlateau")).length, 3);
  assert.deepEqual(result.learningRate, [{
    stage: "frozen",
    learningRate: 1e-9,
    schedule: "constant",
    params: {},
    reductions: [
      { epoch: 2, learningRate: half },
      { epoch: 3, learningRate: f(half * 0.5) },
      { epoch: 4, learningRate: f(f(half * 0.5) * 0.5) },
    ],
  }]);
  head.dispose();
});
