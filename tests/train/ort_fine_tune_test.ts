/**
 * Fine-tuning steps on ONNX Runtime (`src/train/ort_fine_tune.ts`) against
 * TF.js' own `trainOnBatch` on the same suffix model (MobileNetV2 0.35 @32
 * from layer 100, random weights and BatchNormalization statistics, GAP +
 * Dense; and MobileNetV3 Small @64 from a layer in its last third:
 * Rescaling, hard_silu, squeeze-and-excitation), from the same weights, on
 * cpu.
 *
 * Tolerances: with SGD (the update is lr·gradient, so weights differ by lr
 * times the gradients' difference) every weight tensor after 3 steps within
 * max|w_ort − w_tfjs| ≤ 1e-4 · max|w_tfjs − w_0| + 2 float32 ulps of
 * max|w_tfjs| (2.5e-7 relative: γ ≈ 1 rounds at 1.2e-7); with Keras' Adam and RMSprop the per-step
 * losses within 1e-5 relative and accuracies equal (Adam and RMSprop move a
 * component whose gradient is float noise by ~lr, so weights are compared
 * with SGD only).
 *
 * Needs `--allow-ffi`: `deno test -A tests/train/ort_fine_tune_test.ts`.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import {
  buildClassifier,
  type HeadOutput,
} from "../../src/model/classifier.ts";
import { prefixCut, suffixModel } from "../../src/train/_prefix_cache.ts";
import { unfreezeFrom } from "../../src/train/stages.ts";
import { compileArgs } from "../../src/train/head_output.ts";
import {
  trainingLoss,
  type TrainingLossOptions,
} from "../../src/train/training_loss.ts";
import { KerasAdam, KerasRMSprop } from "../../src/train/keras_optimizers.ts";
import {
  drawDropoutMask,
  ortFineTuner,
  selectTrainEngine,
} from "../../src/train/ort_fine_tune.ts";
import { createRng } from "../../src/util/rng.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

let seed = 11;
const rand = (n: number, scale = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    a[i] = (seed / 2147483648 * 2 - 1) * scale;
  }
  return a;
};

async function setup(
  output: HeadOutput,
  opts: { dropout?: number; v3?: boolean } = {},
) {
  const k = output === "logit" ? 2 : 3;
  const clf = await buildClassifier({
    imageSize: opts.v3 ? [64, 64] : [32, 32],
    ...(opts.v3
      ? { architecture: "mobilenet_v3_small" as const }
      : { alpha: 0.35 }),
    numClasses: k,
    seed: 3,
    output,
    dropout: opts.dropout ?? 0,
  });
  randomizeWeights(clf.model, 5);
  // MobileNetV3 Small: from a layer in its last third (SE blocks, hard_silu).
  const from = opts.v3 ? Math.floor(clf.base.layers.length * 0.7) : 100;
  unfreezeFrom(clf.base, from, "inference");
  const cut = prefixCut(clf.base, from);
  const model = suffixModel(clf, cut);
  const n = 6;
  const batches = [0, 1, 2].map((b) => {
    const xs = cut.shapes.map((s) =>
      tf.tensor(rand(n * s.reduce((a, c) => a * c, 1), 3), [n, ...s])
    );
    const labels = Array.from({ length: n }, (_, i) => (i + b) % k);
    const ys = output === "logit" ? tf.tensor2d(labels, [n, 1]) : tf.cast(
      tf.oneHot(tf.tensor1d(labels, "int32"), k),
      "float32",
    ) as tf.Tensor2D;
    return { xs, ys };
  });
  const initial = model.getWeights().map((w) => w.clone());
  const reset = () => model.setWeights(initial);
  return {
    clf,
    model,
    batches,
    reset,
    dispose() {
      tf.dispose(initial);
      batches.forEach((b) => tf.dispose([...b.xs, b.ys]));
      clf.head.dispose();
      clf.model.dispose();
    },
  };
}

async function trainBoth(
  s: Awaited<ReturnType<typeof setup>>,
  output: HeadOutput,
  makeOptimizer: () => tf.Optimizer,
  loss: TrainingLossOptions = {},
) {
  const runOne = async (ort: boolean) => {
    s.reset();
    const opt = makeOptimizer();
    s.model.compile({
      optimizer: opt,
      ...compileArgs(output),
      loss: trainingLoss(output, loss),
    });
    const tuner = ort
      ? await ortFineTuner(s.model, opt, output, {
        classWeights: loss.classWeights,
        labelSmoothing: loss.labelSmoothing,
      })
      : null;
    const logs: number[][] = [];
    for (const b of s.batches) {
      logs.push(
        tuner
          ? await tuner.step(b.xs, b.ys)
          : await s.model.trainOnBatch(b.xs, b.ys) as number[],
      );
    }
    await tuner?.dispose();
    const weights = await Promise.all(
      s.model.trainableWeights.map(async (w) =>
        await w.read().data() as Float32Array
      ),
    );
    opt.dispose();
    return { logs, weights };
  };
  const ref = await runOne(false);
  const got = await runOne(true);
  return { ref, got };
}

/** Asserts the SGD-trained weights agree (see the module doc's tolerance). */
function assertSameSgdWeights(
  s: Awaited<ReturnType<typeof setup>>,
  w0: Float32Array[],
  sgd: { ref: { weights: Float32Array[] }; got: { weights: Float32Array[] } },
) {
  sgd.ref.weights.forEach((r, i) => {
    let moved = 0, diff = 0, size = 0;
    for (let j = 0; j < r.length; j++) {
      moved = Math.max(moved, Math.abs(r[j] - w0[i][j]));
      size = Math.max(size, Math.abs(r[j]));
      diff = Math.max(diff, Math.abs(sgd.got.weights[i][j] - r[j]));
    }
    assert.ok(moved > 0, `weight ${i} did not move`);
    assert.ok(
      diff <= 1e-4 * moved + 2.5e-7 * size,
      `${s.model.trainableWeights[i].name}: diff ${diff}, moved ${moved}`,
    );
  });
}

/** The initial trainable weights of `s`. */
function initialWeights(s: Awaited<ReturnType<typeof setup>>) {
  s.reset();
  return s.model.trainableWeights.map((w) =>
    w.read().dataSync().slice() as Float32Array
  );
}

for (
  const [output, v3] of [
    ["softmax", false],
    ["logit", false],
    ["softmax", true],
  ] as const
) {
  Deno.test(
    `ORT fine-tuning steps = TF.js trainOnBatch (${output} head${
      v3 ? ", MobileNetV3 Small @64 from a layer in its last third" : ""
    }): SGD weights, Keras Adam and RMSprop losses`,
    async () => {
      const s = await setup(output, { v3 });
      try {
        const w0 = initialWeights(s);
        const sgd = await trainBoth(s, output, () => tf.train.sgd(0.05));
        assertSameSgdWeights(s, w0, sgd);
        for (
          const make of [
            () => new KerasAdam(1e-3),
            () => new KerasRMSprop(1e-3),
          ]
        ) {
          const { ref, got } = await trainBoth(s, output, make);
          ref.logs.forEach(([loss, acc], i) => {
            assert.ok(
              Math.abs(got.logs[i][0] - loss) <= 1e-5 * Math.abs(loss),
              `step ${i}: loss ${got.logs[i][0]} vs ${loss}`,
            );
            assert.equal(got.logs[i][1], acc);
          });
        }
      } finally {
        s.dispose();
      }
    },
  );
}

for (const output of ["softmax", "logit"] as const) {
  Deno.test(`ORT fine-tuning with class weights and label smoothing = TF.js trainOnBatch on the run's loss (${output} head)`, async () => {
    const s = await setup(output);
    try {
      const loss = {
        classWeights: output === "logit" ? [0.5, 3] : [1, 3, 0.25],
        labelSmoothing: 0.1,
      };
      const w0 = initialWeights(s);
      const sgd = await trainBoth(s, output, () => tf.train.sgd(0.05), loss);
      assertSameSgdWeights(s, w0, sgd);
      // The weighted, smoothed loss is not the plain one.
      const plain = await trainBoth(s, output, () => tf.train.sgd(0.05));
      sgd.ref.logs.forEach(([l], i) => {
        assert.ok(
          Math.abs(sgd.got.logs[i][0] - l) <= 1e-5 * Math.abs(l),
          `step ${i}: loss ${sgd.got.logs[i][0]} vs ${l}`,
        );
        assert.ok(Math.abs(plain.ref.logs[i][0] - l) > 1e-3);
      });
    } finally {
      s.dispose();
    }
  });
}

Deno.test("ORT fine-tuning trains the head's Dropout with the masks it draws: replayed on TF.js, the same SGD weights and losses", async () => {
  const s = await setup("softmax", { dropout: 0.5 });
  const opt = tf.train.sgd(0.05);
  try {
    const w0 = initialWeights(s);
    const drawn: Float32Array[] = [];
    s.model.compile({ optimizer: opt, ...compileArgs("softmax") });
    const tuner = await ortFineTuner(s.model, opt, "softmax", {
      seed: 7,
      drawMask: (node, size, rate) => {
        assert.equal(rate, 0.5);
        assert.match(node, /dropout/);
        const m = drawDropoutMask(createRng(drawn.length + 1), size, rate);
        drawn.push(m);
        return m;
      },
    });
    const got: number[][] = [];
    for (const b of s.batches) got.push(await tuner.step(b.xs, b.ys));
    await tuner.dispose();
    const gotWeights = s.model.trainableWeights.map((w) =>
      w.read().dataSync().slice() as Float32Array
    );
    assert.equal(drawn.length, s.batches.length);
    for (const m of drawn) {
      const kept = m.filter((v) => v > 0).length / m.length;
      assert.ok(kept > 0.3 && kept < 0.7, `kept ${kept}`);
      assert.ok(m.every((v) => v === 0 || v === 2));
    }
    // TF.js with the Dropout layer replaying the same masks.
    s.reset();
    const flat = (m: tf.LayersModel): tf.layers.Layer[] =>
      m.layers.flatMap((l) => l instanceof tf.LayersModel ? flat(l) : [l]);
    const layer = flat(s.model).find((l) => l.getClassName() === "Dropout")!;
    let step = 0;
    layer.call = (inputs) => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.mul(x, tf.tensor(drawn[step++], x.shape));
    };
    const ref: number[][] = [];
    for (const b of s.batches) {
      ref.push(await s.model.trainOnBatch(b.xs, b.ys) as number[]);
    }
    assert.equal(step, s.batches.length);
    const refWeights = s.model.trainableWeights.map((w) =>
      w.read().dataSync().slice() as Float32Array
    );
    assertSameSgdWeights(s, w0, {
      ref: { weights: refWeights },
      got: { weights: gotWeights },
    });
    ref.forEach(([l], i) =>
      assert.ok(Math.abs(got[i][0] - l) <= 1e-5 * Math.abs(l), `step ${i}`)
    );
    // The default masks come from the seeded generator: the same seed
    // gives the same steps, another seed other ones.
    const seeded = async (seed: number) => {
      s.reset();
      const t = await ortFineTuner(s.model, opt, "softmax", { seed });
      const losses = [];
      for (const b of s.batches) losses.push((await t.step(b.xs, b.ys))[0]);
      await t.dispose();
      return losses;
    };
    const first = await seeded(7);
    assert.deepEqual(await seeded(7), first);
    assert.notDeepEqual(await seeded(8), first);
  } finally {
    opt.dispose();
    s.dispose();
  }
});

Deno.test("ORT fine-tuning refuses what its graph cannot do, naming it; auto falls back to TF.js with the reason, onnxruntime throws", async () => {
  const s = await setup("softmax", { dropout: 0.2 });
  const opt = tf.train.sgd(0.1);
  try {
    const ctx = {
      backend: { backend: "cpu" },
      model: s.model,
      onPrefix: true,
      optimizer: opt,
      output: "softmax" as const,
    };
    // Head dropout trains on the graph.
    const dropout = await selectTrainEngine("auto", ctx);
    assert.equal(dropout.engine, "onnxruntime");
    await dropout.tuner?.dispose();
    assert.equal(
      (await selectTrainEngine("tfjs", ctx)).reason,
      "engine.train is tfjs",
    );
    const gpu = await selectTrainEngine("auto", {
      ...ctx,
      backend: { backend: "webgpu", fallbackAdapter: false },
    });
    assert.equal(gpu.engine, "tfjs");
    assert.match(gpu.reason, /hardware WebGPU/);
    const images = await selectTrainEngine("auto", { ...ctx, onPrefix: false });
    assert.match(images.reason, /on images/);
    // Batch statistics.
    unfreezeFrom(s.clf.base, 100, "batch-stats");
    await assert.rejects(
      () => ortFineTuner(s.model, opt, "softmax"),
      /batch statistics \(fineTune\.batchNorm "batch-stats"\)/,
    );
    const auto = await selectTrainEngine("auto", ctx);
    assert.equal(auto.engine, "tfjs");
    assert.equal(auto.tuner, null);
    assert.match(
      auto.reason,
      /^auto: the suffix cannot train on the ONNX graph: .*batch statistics.*; TF\.js cpu instead$/,
    );
    await assert.rejects(
      () => selectTrainEngine("onnxruntime", ctx),
      /engine\.train is "onnxruntime" but the suffix cannot train.*batch statistics/,
    );
  } finally {
    opt.dispose();
    s.dispose();
  }
});

Deno.test("auto picks ONNX Runtime on cpu for a suffix it can lower", async () => {
  const s = await setup("softmax");
  const opt = tf.train.sgd(0.1);
  try {
    const choice = await selectTrainEngine("auto", {
      backend: { backend: "cpu" },
      model: s.model,
      onPrefix: true,
      optimizer: opt,
      output: "softmax",
    });
    assert.equal(choice.engine, "onnxruntime");
    assert.match(choice.id, /^onnxruntime-node@/);
    await choice.tuner?.dispose();
  } finally {
    opt.dispose();
    s.dispose();
  }
});
