/**
 * WebGPU parity: the same MobileNetV2 (small alpha and size, seeded weights
 * with non-trivial BatchNormalization statistics) gives the same outputs on
 * the `cpu` backend and on `webgpu` (CI has a software adapter, lavapipe).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { probeWebGpu } from "../../src/backend/webgpu_probe.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";

await selectBackend("cpu");
const probe = await probeWebGpu();

/** max |a − b| / max |a|, and the largest relative error among entries ≥ 1 % of max |a|. */
function relErrors(a: Float32Array, b: Float32Array) {
  assert.equal(a.length, b.length);
  let scale = 0;
  for (const v of a) scale = Math.max(scale, Math.abs(v));
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxAbs = Math.max(maxAbs, d);
    if (Math.abs(a[i]) >= 0.01 * scale) {
      maxRel = Math.max(maxRel, d / Math.abs(a[i]));
    }
  }
  return { scale, ofScale: maxAbs / scale, elementwise: maxRel };
}

Deno.test({
  name: "MobileNetV2 gives the same outputs on cpu and webgpu (1e-4 relative)",
  ignore: probe.adapter == null,
  // The WebGPU device TF.js creates lives for the whole process.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const base = mobileNetV2({
      inputShape: [48, 48, 3],
      alpha: 0.35,
      includeTop: false,
    });
    const c = await buildClassifier({
      imageSize: [48, 48],
      alpha: 0.35,
      numClasses: 5,
      seed: 2,
    });
    randomizeWeights(base, 12);
    randomizeWeights(c.model, 13);
    const x = tf.randomUniform([2, 48, 48, 3], -1, 1, "float32", 4);
    const run = async () => {
      const y1 = base.predict(x) as tf.Tensor;
      const y2 = c.model.predict(x) as tf.Tensor;
      const out = [await y1.data(), await y2.data()] as Float32Array[];
      tf.dispose([y1, y2]);
      return out;
    };
    try {
      const [cpuBase, cpuProbs] = await run();
      const sel = await selectBackend("webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      const [gpuBase, gpuProbs] = await run();
      const eBase = relErrors(cpuBase, gpuBase);
      const eProbs = relErrors(cpuProbs, gpuProbs);
      console.log(
        `webgpu (${sel.adapter}) vs cpu: base max|Δ|/max ${
          eBase.ofScale.toExponential(2)
        }, ` +
          `elementwise ${eBase.elementwise.toExponential(2)}; ` +
          `softmax ${eProbs.ofScale.toExponential(2)}, elementwise ${
            eProbs.elementwise.toExponential(2)
          }`,
      );
      assert.ok(eBase.scale > 0.1, "degenerate outputs");
      for (
        const [what, e] of [["base", eBase], ["classifier", eProbs]] as const
      ) {
        assert.ok(e.ofScale <= 1e-4, `${what}: ${JSON.stringify(e)}`);
        assert.ok(e.elementwise <= 1e-4, `${what}: ${JSON.stringify(e)}`);
      }
      // Training on webgpu keeps the frozen base frozen, BN statistics included.
      // (dataSync cannot read WebGPU buffers in Deno: use data().)
      const values = () =>
        Promise.all(c.base.weights.map((w) => w.read().data()));
      const before = await values();
      const headBefore = await c.model.getLayer("predictions").getWeights()[0]
        .data();
      c.model.compile({
        optimizer: tf.train.adam(1e-2),
        loss: "categoricalCrossentropy",
      });
      const y = tf.oneHot(tf.tensor1d([1, 3], "int32"), 5);
      await c.model.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
      y.dispose();
      const after = await values();
      c.base.weights.forEach((w, i) =>
        assert.deepEqual(after[i], before[i], w.originalName)
      );
      const head = await c.model.getLayer("predictions").getWeights()[0].data();
      assert.ok(
        head.some((v, i) => v !== headBefore[i]),
        "the head did not train on webgpu",
      );
    } finally {
      await selectBackend("cpu");
      x.dispose();
      base.dispose();
      c.model.dispose();
    }
  },
});
