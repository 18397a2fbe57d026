import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { type BatchSource, fitLoop } from "../../src/train/fit.ts";
import { featureSource } from "../../src/train/sources.ts";

/** Two linearly separable classes of 4-d points, 10 per class. */
function source(batchSize: number, poison = false): BatchSource {
  const n = 20;
  const features = new Float32Array(n * 4);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < 4; j++) {
      features[i * 4 + j] = (labels[i] ? 1 : -1) + 0.1 * Math.sin(i * 7 + j);
    }
  }
  if (poison) features.fill(NaN, 8 * 4, 9 * 4);
  return featureSource({ features, featureSize: 4, labels, numClasses: 2 }, {
    batchSize,
    shuffle: true,
    seed: 3,
  });
}

function model(lr = 0.1): tf.LayersModel {
  const m = tf.sequential({
    layers: [tf.layers.dense({
      inputShape: [4],
      units: 2,
      activation: "softmax",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })],
  });
  m.compile({
    optimizer: tf.train.sgd(lr),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return m;
}

Deno.test("fitLoop trains, validates each epoch and keeps the tensor count flat", async () => {
  await tf.setBackend("cpu");
  const m = model();
  const counts: number[] = [];
  const r = await fitLoop(m, source(6), source(20), {
    epochs: 4,
    initialEpoch: 2,
    stage: "frozen",
    callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
  });
  assert.equal(r.stopReason, "completed");
  assert.deepEqual(r.rows.map((x) => x.epoch), [3, 4, 5, 6]);
  assert.ok(r.rows.every((x) => x.stage === "frozen"));
  assert.ok(r.rows[3].loss < r.rows[0].loss, "loss decreases");
  assert.ok(r.rows.every((x) => x.val_accuracy >= 0 && x.val_accuracy <= 1));
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts ${counts}`);
  m.dispose();
});

Deno.test("a stop request mid-epoch drops that epoch; after its last batch it is kept", async () => {
  await tf.setBackend("cpu");
  for (const [stopAtBatch, expectedRows] of [[1, 0], [3, 1]] as const) {
    const stop = new AbortController();
    const m = model();
    const r = await fitLoop(m, source(6), source(20), {
      epochs: 3,
      signal: stop.signal,
      callbacks: [{
        onBatchEnd: (b) => {
          if (b === stopAtBatch) stop.abort();
        },
      }],
    });
    // 20 examples in batches of 6: batches 0..3, so batch 3 is the last.
    assert.equal(r.stopReason, "interrupted");
    assert.equal(r.rows.length, expectedRows, `stop at batch ${stopAtBatch}`);
    m.dispose();
  }
});

Deno.test("a non-finite loss stops training at the batch that produced it", async () => {
  await tf.setBackend("cpu");
  const m = model();
  const r = await fitLoop(m, source(6, true), null, { epochs: 3 });
  assert.equal(r.stopReason, "non-finite-loss");
  assert.match(
    r.detail!,
    /^loss became (NaN|Infinity|-Infinity) at epoch \d, batch \d\/4$/,
  );
  m.dispose();
});

Deno.test("training base layers needs convolution gradient kernels: wasm has ours, a backend without them fails up front", async () => {
  const { checkTrainingKernels } = await import("../../src/train/stages.ts");
  const { parseConfig } = await import("../../src/config/load.ts");
  const { registerWasmGradientKernels } = await import(
    "../../src/backend/wasm_grad_kernels.ts"
  );
  // Importing the package registers its kernels; no need to start it.
  const { importTfWasm } = await import("../../src/deps/tf_backends.ts");
  await importTfWasm();
  registerWasmGradientKernels();
  const frozen = parseConfig({});
  checkTrainingKernels(frozen, "wasm"); // head-only training needs none
  checkTrainingKernels(frozen, "no-such-backend");
  for (
    const set of [{ fineTune: { enabled: true } }, {
      model: { trainable: true },
    }]
  ) {
    checkTrainingKernels(parseConfig(set), "wasm");
    checkTrainingKernels(parseConfig(set), "cpu");
    assert.throws(
      () => checkTrainingKernels(parseConfig(set), "no-such-backend"),
      /trains the base's convolutions, but the no-such-backend backend has no Conv2DBackpropFilter, Conv2DBackpropInput, DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput, Tile kernels/,
    );
  }
});
