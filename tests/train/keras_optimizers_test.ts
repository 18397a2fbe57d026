/**
 * Keras-rule optimizers (`src/train/keras_optimizers.ts`) against the update
 * formulas of Keras 3.15 written out here in float64, and against TF.js'
 * own optimizers: RMSprop is the same rule (bit for bit) except centered,
 * Adam differs in where epsilon goes, which shows on small gradients. The
 * per-epoch effect on a real training run is in model_keras_golden_test.ts.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import {
  KerasAdam,
  kerasOptimizer,
  KerasRMSprop,
} from "../../src/train/keras_optimizers.ts";
import { mulberry32 } from "../../src/util/rng.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

/** Seeded gradients of `scale` for `steps` steps of a `size`-vector. */
function gradients(steps: number, size: number, scale: number, seed = 1) {
  const rand = mulberry32(seed);
  return Array.from(
    { length: steps },
    () => Float64Array.from({ length: size }, () => (rand() * 2 - 1) * scale),
  );
}

/** Runs `opt` on a variable starting at `w0`; returns its value after each step. */
function run(
  opt: tf.Optimizer,
  w0: number[],
  grads: Float64Array[],
): Float32Array[] {
  const v = tf.variable(tf.tensor1d(w0));
  const out: Float32Array[] = [];
  for (const g of grads) {
    const gt = tf.tensor1d(Float32Array.from(g));
    opt.applyGradients({ [v.name]: gt });
    gt.dispose();
    out.push(v.dataSync() as Float32Array);
  }
  v.dispose();
  opt.dispose();
  return out;
}

/** Keras 3's Adam in float64. */
function kerasAdam64(
  w0: number[],
  grads: Float64Array[],
  lr: number,
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-7,
) {
  const w = Float64Array.from(w0);
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  return grads.map((g, step) => {
    const t = step + 1;
    const alpha = lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
    for (let i = 0; i < w.length; i++) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] ** 2 - v[i]) * (1 - b2);
      w[i] -= m[i] * alpha / (Math.sqrt(v[i]) + eps);
    }
    return w.slice();
  });
}

/** TF.js 4.22's Adam in float64. */
function tfjsAdam64(
  w0: number[],
  grads: Float64Array[],
  lr: number,
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-7,
) {
  const w = Float64Array.from(w0);
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  return grads.map((g, step) => {
    const t = step + 1;
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2;
      w[i] -= lr * (m[i] / (1 - b1 ** t)) /
        (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
    return w.slice();
  });
}

/** Keras 3's centered RMSprop (momentum 0) in float64. */
function kerasCenteredRMSprop64(
  w0: number[],
  grads: Float64Array[],
  lr: number,
  rho = 0.9,
  eps = 1e-7,
) {
  const w = Float64Array.from(w0);
  const s = new Float64Array(w.length);
  const a = new Float64Array(w.length);
  return grads.map((g) => {
    for (let i = 0; i < w.length; i++) {
      s[i] = rho * s[i] + (1 - rho) * g[i] ** 2;
      a[i] = rho * a[i] + (1 - rho) * g[i];
      w[i] -= lr * g[i] / Math.sqrt(s[i] - a[i] ** 2 + eps);
    }
    return w.slice();
  });
}

/** Largest |a − b| / (|b| + floor) over the last step. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3) {
  let r = 0;
  for (let i = 0; i < b.length; i++) {
    r = Math.max(r, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  }
  return r;
}

const W0 = [0.5, -0.25, 1, 0, 2, -1, 0.125, 0.75];

Deno.test("KerasAdam follows Keras' update rule, tf.train.adam TF.js' (float64 references, 20 steps)", () => {
  const grads = gradients(20, W0.length, 0.1);
  const lr = 1e-2;
  const keras = run(new KerasAdam(lr), W0, grads);
  const tfjs = run(tf.train.adam(lr, 0.9, 0.999, 1e-7), W0, grads);
  const keras64 = kerasAdam64(W0, grads, lr);
  const tfjs64 = tfjsAdam64(W0, grads, lr);
  for (let s = 0; s < grads.length; s++) {
    assert.ok(maxRel(keras[s], keras64[s]) < 1e-5, `step ${s}`);
    assert.ok(maxRel(tfjs[s], tfjs64[s]) < 1e-5, `step ${s}`);
  }
});

Deno.test("Adam's epsilon placement: equal on large gradients, far apart on gradients near epsilon", () => {
  const lr = 1e-3;
  const moved = (w: ArrayLike<number>) =>
    Array.from(w, (x, i) => Math.abs(x - W0[i])).reduce((a, b) => a + b);
  const gap = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    Array.from(a, (x, i) => Math.abs(x - b[i])).reduce((p, q) => p + q);
  // Gradients of 0.05–0.1: the two rules' steps differ by ~1e-5 of a step.
  const large = gradients(10, W0.length, 0.05, 2).map((g) =>
    g.map((x) => x + Math.sign(x) * 0.05)
  );
  const bigK = kerasAdam64(W0, large, lr).at(-1)!;
  const bigT = tfjsAdam64(W0, large, lr).at(-1)!;
  assert.ok(gap(bigK, bigT) < 1e-4 * moved(bigK), `${gap(bigK, bigT)}`);
  const tiny = gradients(10, W0.length, 1e-6, 3);
  const k = run(new KerasAdam(lr), W0, tiny).at(-1)!;
  const t = run(tf.train.adam(lr, 0.9, 0.999, 1e-7), W0, tiny).at(-1)!;
  // Keras' effective epsilon is ε/√(1−β₂ᵗ), 32× TF.js' at step 1 and still
  // 10× at step 10, so on gradients of 1e-6 its steps are much shorter.
  const kMoved = moved(k);
  const tMoved = moved(t);
  assert.ok(tMoved > 2 * kMoved, `${kMoved} vs ${tMoved}`);
  assert.ok(maxRel(k, kerasAdam64(W0, tiny, lr).at(-1)!, 1e-9) < 1e-5);
  assert.ok(maxRel(t, tfjsAdam64(W0, tiny, lr).at(-1)!, 1e-9) < 1e-5);
});

Deno.test("KerasRMSprop equals tf.train.rmsprop bit for bit (plain and with momentum); centered follows Keras, where TF.js subtracts epsilon", () => {
  const grads = gradients(15, W0.length, 0.3, 4);
  const lr = 1e-3;
  assert.deepEqual(
    run(new KerasRMSprop(lr), W0, grads),
    run(tf.train.rmsprop(lr), W0, grads),
  );
  assert.deepEqual(
    run(new KerasRMSprop(lr, { momentum: 0.9 }), W0, grads),
    run(tf.train.rmsprop(lr, 0.9, 0.9), W0, grads),
  );
  const keras = run(new KerasRMSprop(lr, { centered: true }), W0, grads);
  const ref = kerasCenteredRMSprop64(W0, grads, lr);
  grads.forEach((_, s) => assert.ok(maxRel(keras[s], ref[s]) < 1e-5));
  // A zero gradient (a dead unit) leaves the centred variance at 0: Keras
  // divides by √ε, TF.js takes √(−ε) and the weight becomes NaN.
  const constant = Array.from({ length: 3 }, () => new Float64Array([0]));
  const k = run(new KerasRMSprop(lr, { centered: true }), [1], constant);
  const t = run(tf.train.rmsprop(lr, 0.9, 0, 1e-7, true), [1], constant);
  assert.ok(k.every((w) => Number.isFinite(w[0])));
  assert.ok(t.some((w) => Number.isNaN(w[0])), String(t));
});

Deno.test("Keras optimizers: slots per variable name (a variable joining later starts fresh), state round-trips through getWeights/setWeights, dispose frees every tensor", async () => {
  const before = tf.memory().numTensors;
  const makers = [
    () => new KerasAdam(1e-2),
    () => new KerasRMSprop(1e-2, { momentum: 0.5, centered: true }),
  ];
  for (const make of makers) {
    const variable = (x: number[]) =>
      tf.tidy(() => tf.variable(tf.tensor1d(x)));
    const a = variable([1, 2]);
    const b = variable([3]);
    const ga = tf.tensor1d([0.1, -0.2]);
    const gb = tf.tensor1d([0.3]);
    const opt = make();
    opt.applyGradients({ [a.name]: ga });
    // b joins at step 2, listed first; a keeps its state (names, not positions).
    opt.applyGradients({ [b.name]: gb, [a.name]: ga });
    const solo = make();
    const a1 = variable([1, 2]);
    solo.applyGradients({ [a1.name]: ga });
    solo.applyGradients({ [a1.name]: ga });
    assert.deepEqual(a.dataSync(), a1.dataSync());

    const state = await opt.getWeights();
    const saved = state.map((w) => ({
      name: w.name,
      tensor: w.tensor.clone(),
    }));
    state[0].tensor.dispose(); // the iterations scalar is made for the caller
    assert.equal(saved[0].name, "iter");
    assert.equal(saved[0].tensor.dataSync()[0], 2);
    const afterTwo = a.clone();
    opt.applyGradients({ [a.name]: ga });
    const afterThree = a.dataSync().slice();
    // A fresh optimizer given the saved state takes the same third step.
    a.assign(afterTwo);
    const copy = make();
    await copy.setWeights(saved);
    copy.applyGradients({ [a.name]: ga });
    assert.deepEqual(a.dataSync(), afterThree);
    tf.dispose([...saved.map((w) => w.tensor), afterTwo, a, a1, b, ga, gb]);
    for (const o of [opt, solo, copy]) o.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("kerasOptimizer maps the config names to Keras' rules", () => {
  assert.ok(kerasOptimizer("adam", 1e-3) instanceof KerasAdam);
  assert.ok(kerasOptimizer("rmsprop", 1e-3) instanceof KerasRMSprop);
  assert.equal(kerasOptimizer("sgd", 1e-3).getClassName(), "SGD");
  assert.throws(
    () => kerasOptimizer("adagrad" as "adam", 1e-3),
    /unknown optimizer "adagrad" \(expected adam, sgd or rmsprop\)/,
  );
  const config = new KerasAdam(0.5, 0.8, 0.99, 1e-6).getConfig();
  assert.deepEqual(config, {
    learningRate: 0.5,
    beta1: 0.8,
    beta2: 0.99,
    epsilon: 1e-6,
  });
});
