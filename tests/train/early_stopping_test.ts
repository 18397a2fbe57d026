/**
 * EarlyStopping (Keras 3 semantics) and the best-model tracker: the state
 * machines against hand-computed metric sequences, the fitLoop stop request
 * and end hook, and restoring the best weights of a real tiny model trained
 * with fitLoop on cpu and on wasm.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "../../src/deps/tf.ts";
import {
  importTfWasm,
  TFJS_WASM_SPECIFIER,
} from "../../src/deps/tf_backends.ts";
import {
  EarlyStopping,
  earlyStoppingCallback,
  type EarlyStoppingOptions,
  isImprovement,
} from "../../src/train/early_stopping.ts";
import {
  bestCheckpointCallback,
  BestTracker,
} from "../../src/train/best_checkpoint.ts";
import {
  type BatchSource,
  evaluateLoss,
  fitLoop,
  type FitResult,
} from "../../src/train/fit.ts";
import { featureSource } from "../../src/train/sources.ts";

/**
 * Feeds `values` (epoch i gets values[i]) until a stop; returns the 0-based
 * epochs that kept weights, the stop epoch and the final state.
 */
function drive(
  opts: EarlyStoppingOptions,
  values: (number | undefined)[],
  firstEpoch = 0,
) {
  const es = new EarlyStopping(opts);
  const kept: number[] = [];
  let stoppedAt: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const epoch = firstEpoch + i;
    const d = es.update(epoch, values[i]);
    if (d.keepWeights) kept.push(epoch);
    if (d.stop) {
      stoppedAt = epoch;
      break;
    }
  }
  return { stoppedAt, kept, state: es.state, es };
}

Deno.test("isImprovement: strict, by direction, beyond minDelta, NaN never", () => {
  assert.equal(isImprovement(0.4, 0.5, "min"), true);
  assert.equal(
    isImprovement(0.5, 0.5, "min"),
    false,
    "a tie is no improvement",
  );
  assert.equal(isImprovement(0.6, 0.5, "max"), true);
  assert.equal(isImprovement(0.4, 0.5, "max"), false);
  // Exact binary fractions: the change must exceed minDelta.
  assert.equal(isImprovement(0.75, 1, "min", 0.25), false);
  assert.equal(isImprovement(0.5, 1, "min", 0.25), true);
  assert.equal(isImprovement(1.25, 1, "max", 0.25), false);
  assert.equal(isImprovement(1.5, 1, "max", 0.25), true);
  assert.equal(isImprovement(7, null, "min"), true);
  assert.equal(isImprovement(NaN, null, "min"), false);
  assert.equal(isImprovement(NaN, 0.5, "max"), false);
});

Deno.test("EarlyStopping: patience counts epochs since the best", () => {
  // e0 best .5, e1 best .4, e2 wait 1, e3 wait 2 ≥ 2 → stop after e3.
  const r = drive({ patience: 2 }, [0.5, 0.4, 0.41, 0.42, 0.3]);
  assert.equal(r.stoppedAt, 3);
  assert.deepEqual(r.state, {
    best: 0.4,
    bestEpoch: 1,
    wait: 2,
    stoppedEpoch: 3,
  });
  assert.deepEqual(r.kept, [0, 1]);
  assert.match(
    r.es.stopMessage(),
    /after epoch 4: val_loss did not improve .* for 2 epochs \(patience 2; best 0\.4 after epoch 2\)/,
  );
  // A late improvement within patience resets the count.
  const late = drive({ patience: 2 }, [0.5, 0.6, 0.45, 0.5, 0.46, 0.47]);
  assert.equal(late.stoppedAt, 4);
  assert.equal(late.state.bestEpoch, 2);
});

Deno.test("EarlyStopping: patience 0 stops at the first epoch without improvement; ties do not improve", () => {
  assert.equal(drive({ patience: 0 }, [0.5, 0.6, 0.1]).stoppedAt, 1);
  assert.equal(drive({ patience: 0 }, [0.5, 0.4, 0.4]).stoppedAt, 2);
  assert.equal(drive({ patience: 0 }, [0.5, 0.4, 0.3]).stoppedAt, null);
});

Deno.test("EarlyStopping: minDelta compares with the best, not the last value", () => {
  // e1: 0.96 is not 0.05 below 1.0 (wait 1); e2: 0.94 is (best, wait 0);
  // e3: 0.90 not 0.05 below 0.94 (wait 1); e4: 0.93 (wait 2) → stop.
  const r = drive({ patience: 2, minDelta: 0.05 }, [1, 0.96, 0.94, 0.9, 0.93]);
  assert.equal(r.stoppedAt, 4);
  assert.equal(r.state.best, 0.94);
  assert.equal(r.state.bestEpoch, 2);
  // Exactly minDelta is not enough (binary-exact values).
  assert.equal(drive({ patience: 0, minDelta: 0.25 }, [1, 0.75]).stoppedAt, 1);
  assert.equal(
    drive({ patience: 0, minDelta: 0.25 }, [1, 0.5]).stoppedAt,
    null,
  );
});

Deno.test("EarlyStopping: the monitor sets the direction", () => {
  const acc = drive({ monitor: "val_accuracy", patience: 2 }, [
    0.5,
    0.6,
    0.6,
    0.55,
  ]);
  assert.equal(acc.es.mode, "max");
  assert.equal(acc.stoppedAt, 3);
  assert.equal(acc.state.bestEpoch, 1);
  // The same numbers as losses: rising is worse.
  const loss = drive({ monitor: "val_loss", patience: 2 }, [0.5, 0.6, 0.6]);
  assert.equal(loss.es.mode, "min");
  assert.equal(loss.stoppedAt, 2);
  assert.equal(loss.state.bestEpoch, 0);
});

Deno.test("EarlyStopping: NaN counts as no improvement and never becomes the best", () => {
  // e0 NaN: weights kept (nothing better yet), wait 1; e1 0.5 best, wait 0;
  // e2, e3 NaN: wait 2 → stop after e3.
  const r = drive({ patience: 2 }, [NaN, 0.5, NaN, NaN]);
  assert.equal(r.stoppedAt, 3);
  assert.deepEqual(r.kept, [0, 1]);
  assert.equal(r.state.best, 0.5);
  assert.equal(r.state.bestEpoch, 1);
  // Never after epoch 0, even with patience 0.
  assert.equal(drive({ patience: 0 }, [NaN]).stoppedAt, null);
  assert.equal(drive({ patience: 0 }, [NaN, NaN]).stoppedAt, 1);
  const all = drive({ patience: 5 }, [NaN, NaN]);
  assert.equal(all.state.best, null);
  assert.equal(all.state.bestEpoch, 0, "the first monitored epoch's weights");
});

Deno.test("EarlyStopping: a missing value and warm-up epochs are not monitored", () => {
  const r = drive({ patience: 1 }, [0.5, undefined, undefined, 0.6]);
  assert.equal(r.stoppedAt, 3);
  assert.equal(r.state.wait, 1);
  // startFromEpoch 2: e0, e1 ignored; e2 first best; e3 worse → stop (patience 0).
  const w = drive({ patience: 0, startFromEpoch: 2 }, [0.1, 0.2, 0.3, 0.4]);
  assert.equal(w.stoppedAt, 3);
  assert.equal(w.state.best, 0.3);
  assert.deepEqual(w.kept, [2]);
});

Deno.test("EarlyStopping: a baseline must be beaten before waiting restarts", () => {
  // Every value improves on the previous best but none beats 0.5: wait
  // grows 1, 2, 3 through the improvements; e3 (not an improvement) has
  // wait 4 ≥ 3 → stop. The best epoch is still e2.
  const r = drive({ patience: 3, baseline: 0.5 }, [0.9, 0.8, 0.7, 0.71, 0.72]);
  assert.equal(r.stoppedAt, 3);
  assert.equal(r.state.bestEpoch, 2);
  assert.deepEqual(r.kept, [0, 1, 2]);
  // Beating the baseline resets the count.
  const b = drive({ patience: 2, baseline: 0.5 }, [0.9, 0.4, 0.45, 0.46, 0.47]);
  assert.equal(b.stoppedAt, 3);
  assert.equal(b.state.bestEpoch, 1);
});

Deno.test("EarlyStopping: absolute epochs (later stage) and reset", () => {
  const es = new EarlyStopping({ patience: 0 });
  // A stage starting at epoch 10: the first value is the best, the second stops.
  assert.equal(es.update(10, 0.3).stop, false);
  assert.equal(es.update(11, 0.3).stop, true);
  assert.equal(es.state.stoppedEpoch, 11);
  es.reset();
  assert.deepEqual(es.state, {
    best: null,
    bestEpoch: null,
    wait: 0,
    stoppedEpoch: null,
  });
  assert.equal(es.update(12, 0.9).improved, true);
});

Deno.test("EarlyStopping and BestTracker: bad options name the option", () => {
  assert.throws(
    () => new EarlyStopping({ patience: -1 }),
    /patience: expected an integer ≥ 0, found -1/,
  );
  assert.throws(() => new EarlyStopping({ patience: 1.5 }), /patience/);
  assert.throws(
    () => new EarlyStopping({ minDelta: -0.1 }),
    /minDelta: expected a finite number ≥ 0/,
  );
  assert.throws(() => new EarlyStopping({ baseline: NaN }), /baseline/);
  assert.throws(
    () => new EarlyStopping({ monitor: "loss" as "val_loss" }),
    /monitor: expected one of val_loss, val_accuracy, found "loss"/,
  );
  assert.throws(
    () => new BestTracker({ initialValueThreshold: Infinity }),
    /initialValueThreshold/,
  );
});

Deno.test("BestTracker: new best per epoch, as ModelCheckpoint(save_best_only)", () => {
  const feed = (t: BestTracker, values: (number | undefined)[]) =>
    values.flatMap((v, e) => (t.update(e, v) ? [e] : []));
  // First value always saves; ties and NaN do not; missing values skip.
  assert.deepEqual(
    feed(new BestTracker(), [0.5, 0.6, 0.4, 0.4, NaN, undefined, 0.3]),
    [0, 2, 6],
  );
  assert.deepEqual(
    feed(new BestTracker({ monitor: "val_accuracy" }), [0.5, 0.5, 0.7, 0.6]),
    [0, 2],
  );
  assert.deepEqual(
    feed(new BestTracker({ initialValueThreshold: 0.45 }), [0.5, 0.44, 0.45]),
    [1],
  );
  assert.deepEqual(
    feed(new BestTracker({ minDelta: 0.25 }), [1, 0.75, 0.5, 0.375]),
    [0, 2],
  );
});

// ---- fitLoop integration ----------------------------------------------------

/**
 * Points of two classes; training labels say class = sign of x0, the
 * validation labels say the opposite, so as the model learns the training
 * labels its validation loss rises every epoch: the best val_loss is epoch 1.
 */
function sources(): { train: BatchSource; val: BatchSource } {
  const n = 24;
  const features = new Float32Array(n * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    features[i * 3] = (labels[i] ? 1 : -1) * (0.5 + (i % 5) / 10);
    features[i * 3 + 1] = Math.sin(i);
    features[i * 3 + 2] = Math.cos(i * 3);
  }
  const flipped = labels.map((l) => 1 - l);
  const opts = { batchSize: 8, shuffle: false, seed: 1 };
  return {
    train: featureSource(
      { features, featureSize: 3, labels, numClasses: 2 },
      opts,
    ),
    val: featureSource(
      { features, featureSize: 3, labels: flipped, numClasses: 2 },
      opts,
    ),
  };
}

function tinyModel(): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [3],
        units: 4,
        activation: "tanh",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
      tf.layers.dense({
        units: 2,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
    ],
  });
  m.compile({
    optimizer: tf.train.adam(0.05),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return m;
}

async function weightValues(m: tf.LayersModel): Promise<number[][]> {
  return await Promise.all(
    m.weights.map(async (w) => Array.from(await w.read().data())),
  );
}

/**
 * Trains the tiny model with early stopping (val_loss, patience 2, restore)
 * and checks: stop after epoch 3, the weights equal the snapshot after epoch
 * 1 exactly (and differ from the last epoch's), the validation loss of the
 * restored model is epoch 1's, and no tensor is left behind.
 */
async function restoreBestWeightsOn(backend: string) {
  assert.ok(await tf.setBackend(backend), `backend ${backend}`);
  const { train, val } = sources();
  const m = tinyModel();
  // One epoch first so that the optimizer's slots exist before counting.
  await fitLoop(m, train, null, { epochs: 1 });
  const tensorsBefore = tf.memory().numTensors;
  const snapshots: number[][][] = [];
  const ended: FitResult[] = [];
  const log: string[] = [];
  const es = earlyStoppingCallback(
    m,
    { monitor: "val_loss", patience: 2, restoreBestWeights: true },
    (l) => log.push(l),
  );
  const r = await fitLoop(m, train, val, {
    epochs: 10,
    initialEpoch: 1,
    callbacks: [
      { onEpochEnd: async () => void snapshots.push(await weightValues(m)) },
      es,
      { onFitEnd: (res) => void ended.push(res) },
    ],
  });
  // Precondition of the test: validation loss rises every epoch.
  const vl = r.rows.map((x) => x.val_loss);
  assert.ok(vl.every((v, i) => i === 0 || v > vl[i - 1]), `val_loss ${vl}`);

  assert.equal(r.stopReason, "early-stopped");
  assert.deepEqual(r.rows.map((x) => x.epoch), [2, 3, 4]);
  assert.match(r.detail!, /early stopping after epoch 4: val_loss/);
  assert.deepEqual(ended, [r], "onFitEnd gets the result, once");

  const restored = await weightValues(m);
  assert.deepEqual(restored, snapshots[0], "weights after the best epoch (2)");
  assert.notDeepEqual(restored, snapshots[2]);
  const again = await evaluateLoss(m, val);
  assert.ok(Math.abs(again.loss - r.rows[0].val_loss) < 1e-6);

  const rec = es.record();
  assert.deepEqual(
    {
      stopped: rec.stopped,
      stoppedEpoch: rec.stoppedEpoch,
      bestEpoch: rec.bestEpoch,
      bestValue: rec.bestValue,
      restoredEpoch: rec.restoredEpoch,
    },
    {
      stopped: true,
      stoppedEpoch: 4,
      bestEpoch: 2,
      bestValue: r.rows[0].val_loss,
      restoredEpoch: 2,
    },
  );
  assert.deepEqual(log, [
    r.detail,
    "restored the weights from the end of epoch 2",
  ]);
  assert.equal(tf.memory().numTensors, tensorsBefore, "kept copies freed");
  m.dispose();
}

Deno.test("earlyStoppingCallback: stops fitLoop and restores the best weights (cpu)", async () => {
  await restoreBestWeightsOn("cpu");
});

Deno.test("earlyStoppingCallback: stops fitLoop and restores the best weights (wasm)", async () => {
  const wasm = await importTfWasm();
  wasm.setWasmPaths(
    dirname(fileURLToPath(import.meta.resolve(TFJS_WASM_SPECIFIER))) + "/",
  );
  try {
    await restoreBestWeightsOn("wasm");
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("earlyStoppingCallback: restores at the end also when training completes (Keras 3)", async () => {
  await tf.setBackend("cpu");
  const { train, val } = sources();
  const m = tinyModel();
  const snapshots: number[][][] = [];
  const es = earlyStoppingCallback(m, {
    patience: 5,
    restoreBestWeights: true,
  });
  const r = await fitLoop(m, train, val, {
    epochs: 3,
    callbacks: [
      { onEpochEnd: async () => void snapshots.push(await weightValues(m)) },
      es,
    ],
  });
  assert.equal(r.stopReason, "completed");
  assert.equal(r.rows.length, 3);
  assert.deepEqual(await weightValues(m), snapshots[0]);
  assert.equal(es.record().stopped, false);
  assert.equal(es.record().restoredEpoch, 1);
  // Without restoreBestWeights the last weights stay.
  const m2 = tinyModel();
  const last: number[][][] = [];
  await fitLoop(m2, train, val, {
    epochs: 3,
    callbacks: [
      { onEpochEnd: async () => void last.push(await weightValues(m2)) },
      earlyStoppingCallback(m2, { patience: 5 }),
    ],
  });
  assert.deepEqual(await weightValues(m2), last[2]);
  m.dispose();
  m2.dispose();
});

Deno.test("fitLoop: shouldStop ends training after that epoch; onFitEnd runs on every stop reason", async () => {
  await tf.setBackend("cpu");
  const { train, val } = sources();
  const m = tinyModel();
  const seen: string[] = [];
  const r = await fitLoop(m, train, val, {
    epochs: 5,
    callbacks: [{
      shouldStop: () => (seen.length === 2 ? "enough" : null),
      onEpochEnd: (e) => void seen.push(`epoch ${e}`),
      onFitEnd: (res) => void seen.push(res.stopReason),
    }],
  });
  assert.equal(r.stopReason, "early-stopped");
  assert.equal(r.detail, "enough");
  assert.equal(r.rows.length, 2);
  assert.deepEqual(seen, ["epoch 0", "epoch 1", "early-stopped"]);

  const reasons: string[] = [];
  const onFitEnd = (res: FitResult) => void reasons.push(res.stopReason);
  await fitLoop(m, train, val, { epochs: 1, callbacks: [{ onFitEnd }] });
  const stop = new AbortController();
  stop.abort();
  await fitLoop(m, train, val, {
    epochs: 1,
    signal: stop.signal,
    callbacks: [{ onFitEnd }],
  });
  assert.deepEqual(reasons, ["completed", "interrupted"]);
  m.dispose();
});

Deno.test("bestCheckpointCallback: saves on each new best across stages", async () => {
  await tf.setBackend("cpu");
  const { train, val } = sources();
  const m = tinyModel();
  const saved: number[] = [];
  const cb = bestCheckpointCallback((epoch, row) => {
    assert.equal(row.epoch, epoch);
    saved.push(epoch);
  });
  const a = await fitLoop(m, train, val, { epochs: 2, callbacks: [cb] });
  const b = await fitLoop(m, train, val, {
    epochs: 2,
    initialEpoch: 2,
    callbacks: [cb],
  });
  const rows = [...a.rows, ...b.rows];
  // val_loss rises every epoch here, so only epoch 1 is ever the best.
  assert.ok(rows.every((x, i) => i === 0 || x.val_loss > rows[i - 1].val_loss));
  assert.deepEqual(saved, [1]);
  assert.deepEqual(cb.record(), {
    monitor: "val_loss",
    bestEpoch: 1,
    bestValue: rows[0].val_loss,
    saves: 1,
  });
  // By accuracy on the training set: every epoch that raises it is saved.
  const byAcc: number[] = [];
  const m2 = tinyModel();
  const c = await fitLoop(m2, train, train, {
    epochs: 4,
    callbacks: [
      bestCheckpointCallback((e) => void byAcc.push(e), {
        monitor: "val_accuracy",
      }),
    ],
  });
  const expected: number[] = [];
  let best = -Infinity;
  for (const row of c.rows) {
    if (row.val_accuracy > best) {
      best = row.val_accuracy;
      expected.push(row.epoch);
    }
  }
  assert.deepEqual(byAcc, expected);
  m.dispose();
  m2.dispose();
});
