/**
 * `selectFrozenEngine` (src/engine/frozen_engine.ts) with a model the frozen
 * graph cannot lower: `"auto"` falls back to TF.js (the plain layers model,
 * since fusing needs the same graph) and says why in its reason, naming the
 * layer; `"onnxruntime"` fails naming `engine.frozen` and the layer. Never a
 * half-lowered graph. Needs `--allow-ffi` (ONNX Runtime).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { selectFrozenEngine } from "../../src/engine/frozen_engine.ts";
import { tryLoadOnnxRuntime } from "../../src/engine/onnx_runtime.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

Deno.test("selectFrozenEngine: a layer the frozen graph cannot lower falls back to TF.js under auto (saying which), and fails under onnxruntime", async () => {
  assert.ok((await tryLoadOnnxRuntime()).ok, "ONNX Runtime loads here");
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: "conv" })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool" }).apply(
    x,
  ) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x, name: "odd" });
  const xs = tf.randomUniform(
    [2, 8, 8, 3],
    0,
    255,
    "float32",
    1,
  ) as tf.Tensor4D;
  try {
    const { forward, reason } = await selectFrozenEngine(
      "auto",
      { backend: "cpu" },
      model,
    );
    try {
      assert.equal(forward.engine, "tfjs");
      assert.match(
        reason,
        /^auto: model "odd" cannot run on ONNX Runtime \(layer "pool" \(class MaxPooling2D\): not supported by the frozen graph .*\); TF\.js cpu instead, layers model \(fusing failed: /,
      );
      const got = await forward.run(xs);
      const want = model.predict(xs) as tf.Tensor;
      assert.deepEqual(await got.data(), await want.data());
      tf.dispose([got, want]);
    } finally {
      await forward.dispose();
    }
    await assert.rejects(
      () => selectFrozenEngine("onnxruntime", { backend: "cpu" }, model),
      /^Error: engine\.frozen is "onnxruntime" but model "odd" cannot run on it: layer "pool" \(class MaxPooling2D\).*Set engine\.frozen to "auto" or "tfjs"\.$/,
    );
  } finally {
    xs.dispose();
    model.dispose();
  }
});
