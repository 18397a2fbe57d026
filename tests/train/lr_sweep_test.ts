/**
 * The LR finder's training loop (src/train/lr_sweep.ts) on cpu with real
 * TF.js training: the learning rate of each step reaches every optimizer
 * (a first step scales with it; SGD step by step against fresh optimizers
 * at the scheduled rates), the sweep over shuffled feature batches falls
 * then diverges with suggestions inside the sweep, a stop request, and no
 * tensor left behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { featureSource } from "../../src/train/sources.ts";
import { lrSweep } from "../../src/train/lr_sweep.ts";
import { sweepLr } from "../../src/train/lr_find.ts";
import type { BatchSource } from "../../src/train/fit.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";

silenceNodeBanner();
await tf.setBackend("cpu");

/**
 * Two overlapping classes of 8-d features, 96 rows, every fifth label
 * flipped: a loss floor well above 0, which large steps overshoot.
 */
function source(batchSize = 16): BatchSource {
  const n = 96;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const noisy = labels.map((l, i) => (i % 5 === 0 ? 1 - l : l));
  const features = Float32Array.from(
    { length: n * 8 },
    (_, i) => (labels[Math.floor(i / 8)] ? 0.5 : -0.5) + Math.sin(i * 1.7),
  );
  return featureSource(
    { features, featureSize: 8, labels: noisy, numClasses: 2 },
    { batchSize, shuffle: true, seed: 3 },
  );
}

/** A Dense softmax head with seeded initial weights. */
function head(): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.dense({
      inputShape: [8],
      units: 2,
      activation: "softmax",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
    })],
  });
}

/** The head's kernel values. */
const kernel = (m: tf.LayersModel) =>
  Array.from(m.layers[0].getWeights()[0].dataSync());

/** A signal aborted after `k` iterations. */
function stopAfter(k: number) {
  const stop = new AbortController();
  return {
    signal: stop.signal,
    onIteration: (r: { iteration: number }) => {
      if (r.iteration === k - 1) stop.abort();
    },
  };
}

for (const rule of ["keras", "tfjs"] as const) {
  for (const optimizer of ["adam", "rmsprop", "sgd"] as const) {
    Deno.test(`lrSweep (${optimizer}, ${rule} rule): a first step scales with the scheduled lr`, async () => {
      const w0 = kernel(head());
      const deltas: number[][] = [];
      for (const startLr of [1e-2, 1e-1]) {
        const m = head();
        const r = await lrSweep(m, source(), {
          optimizer,
          optimizerRule: rule,
          finder: { startLr, endLr: startLr * 100 },
          ...stopAfter(1),
        });
        assert.equal(r.records.length, 1);
        assert.equal(r.stopReason, "interrupted");
        assert.equal(r.records[0].lr, startLr);
        deltas.push(kernel(m).map((w, i) => w - w0[i]));
        m.dispose();
      }
      // Every step of these rules is linear in lr at step 1 (float32: 1e-3).
      const big = deltas[1].map(Math.abs).reduce((a, b) => Math.max(a, b));
      assert.ok(big > 1e-5, `the step moved the weights (${big})`);
      deltas[0].forEach((d, i) => {
        assert.ok(
          Math.abs(d * 10 - deltas[1][i]) <= 1e-3 * big,
          `${optimizer} weight ${i}: ${d * 10} vs ${deltas[1][i]}`,
        );
      });
    });
  }
}

Deno.test("lrSweep (sgd): five steps equal fresh SGD optimizers at the scheduled rates", async () => {
  const finder = { startLr: 1e-3, endLr: 10, numIt: 10 };
  const m = head();
  await lrSweep(m, source(), { optimizer: "sgd", finder, ...stopAfter(5) });
  // The same batches (epoch 0 of the same source), one plain SGD each.
  const ref = head();
  let i = 0;
  for await (const { xs, ys } of source().batches(0)) {
    if (i < 5) {
      const sgd = tf.train.sgd(sweepLr({ ...finder }, i));
      ref.compile({ optimizer: sgd, loss: "categoricalCrossentropy" });
      await ref.trainOnBatch(xs, ys);
      sgd.dispose();
    }
    tf.dispose([xs, ys]);
    i++;
  }
  const a = kernel(m);
  const b = kernel(ref);
  a.forEach((w, k) => assert.ok(Math.abs(w - b[k]) <= 1e-6, `${w} vs ${b[k]}`));
  m.dispose();
  ref.dispose();
});

/** Three classes of 64-d features (a learnable pattern) and a small MLP. */
function threeClasses() {
  const n = 96, d = 64, k = 3;
  const labels = Int32Array.from({ length: n }, (_, i) => i % k);
  const features = Float32Array.from(
    { length: n * d },
    (_, i) =>
      ((i % d) % k === labels[Math.floor(i / d)] ? 0.3 : 0) +
      Math.sin(i * 1.7 + 0.3 * i * i),
  );
  const train = featureSource(
    { features, featureSize: d, labels, numClasses: k },
    { batchSize: 16, shuffle: true, seed: 3 },
  );
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [d],
        units: 32,
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
      }),
      tf.layers.dense({
        units: k,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
      }),
    ],
  });
  return { train, model };
}

Deno.test("lrSweep (adam up to 1e4): loss falls then diverges; suggestions inside the sweep; no tensor left", async () => {
  const { train, model } = threeClasses();
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const r = await lrSweep(model, train, {
    optimizer: "adam",
    finder: { endLr: 1e4 },
    onIteration: (rec, n) => {
      assert.equal(n, 100);
      seen.push(rec.iteration);
    },
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(seen, r.records.map((x) => x.iteration));
  assert.equal(r.stopReason, "diverged", `${r.records.length} iterations`);
  assert.ok(r.records.length > 30 && r.records.length < 100);
  const smooth = r.records.map((x) => x.smoothLoss);
  const best = Math.min(...smooth);
  // Chance is ln 3 ≈ 1.10; 6 batches per epoch, so many reshuffled epochs.
  assert.ok(best < 0.75 * Math.log(3), `best ${best}`);
  const bestAt = smooth.indexOf(best);
  assert.ok(bestAt > 20 && bestAt < r.records.length - 1);
  assert.ok(smooth.at(-1)! > 4 * best);
  const { valley, minimum, steep, window } = r.suggestions;
  const lo = r.records[window.start].lr;
  const hi = r.records[window.end - 1].lr;
  for (const s of [valley!, steep!]) {
    assert.ok(s.lr >= lo && s.lr <= hi, `${s.lr} in [${lo}, ${hi}]`);
  }
  assert.ok(minimum!.lr >= lo / 10 && minimum!.lr <= hi / 10);
  // minimum marks the lowest smoothed loss of the window.
  const inWindow = smooth.slice(window.start, window.end);
  assert.equal(minimum!.point.loss, Math.min(...inWindow));
  model.dispose();
});

Deno.test("lrSweep: an empty training split is an error", async () => {
  const empty: BatchSource = { count: 0, numBatches: 0, batches: () => [] };
  await assert.rejects(
    () => lrSweep(head(), empty, { optimizer: "adam" }),
    /training split has no images/,
  );
});

Deno.test("lrSweep: the first batch's loss is the run's training loss (label smoothing, class weights)", async () => {
  // The first batch as the sweep sees it (epoch 0 of the same seeded source).
  let first: { xs: tf.Tensor; ys: tf.Tensor } | null = null;
  for await (const b of source().batches(0)) {
    if (first == null) first = b as { xs: tf.Tensor; ys: tf.Tensor };
    else tf.dispose([b.xs, b.ys]);
  }
  if (first == null) throw new Error("no batch");
  const m0 = head();
  const p = (m0.predict(first.xs) as tf.Tensor).arraySync() as number[][];
  const y = first.ys.arraySync() as number[][];
  tf.dispose([first.xs, first.ys]);
  m0.dispose();
  /** Keras' smoothed, weighted categorical cross-entropy, batch mean. */
  const expected = (ls: number, w: number[]) =>
    p.reduce((sum, row, i) => {
      const t = y[i].map((v) => v * (1 - ls) + ls / 2);
      const l = -t.reduce((a, ti, j) => a + ti * Math.log(row[j]), 0);
      return sum + l * (w[0] * y[i][0] + w[1] * y[i][1]);
    }, 0) / p.length;
  const cases = [
    { loss: undefined, ls: 0, w: [1, 1] },
    { loss: { labelSmoothing: 0.3 }, ls: 0.3, w: [1, 1] },
    { loss: { classWeights: [1, 4] }, ls: 0, w: [1, 4] },
  ];
  const got: number[] = [];
  for (const c of cases) {
    const m = head();
    const r = await lrSweep(m, source(), {
      optimizer: "sgd",
      loss: c.loss,
      ...stopAfter(1),
    });
    m.dispose();
    got.push(r.records[0].loss);
    const want = expected(c.ls, c.w);
    assert.ok(
      Math.abs(r.records[0].loss - want) <= 1e-5 * want,
      `${JSON.stringify(c.loss)}: ${r.records[0].loss} vs ${want}`,
    );
  }
  assert.notEqual(got[1], got[0], "smoothing changes the loss");
  assert.notEqual(got[2], got[0], "weights change the loss");
});
