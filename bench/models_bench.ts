/**
 * Model-building and weights-loading costs for the reference configuration
 * (MobileNetV2 1.0 at 160×160 without top): building the 154-layer graph,
 * and reading + loading a Keras `.h5` of the size of Keras' real file (~9 MB,
 * generated, since the real one cannot be downloaded here).
 *
 * Run with `deno task bench bench/models_bench.ts`.
 */

import * as tf from "../src/deps/tf.ts";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";
import { readKerasWeights } from "../src/weights/keras_h5.ts";
import { loadKerasWeights } from "../src/weights/keras_weights.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import { makeMobileNetV2H5 } from "../fixtures/make_h5.ts";

await tf.setBackend("cpu");
silenceNodeBanner();
const { model: source, bytes } = await makeMobileNetV2H5({
  alpha: 1.0,
  rows: 160,
  seed: 1,
});
source.dispose();
const target = mobileNetV2({
  inputShape: [160, 160, 3],
  alpha: 1.0,
  includeTop: false,
});

Deno.bench({
  name: "build MobileNetV2 1.0 @160 without top (154 layers, 2.26M params)",
  n: 20,
  warmup: 2,
  fn: () => {
    mobileNetV2({ inputShape: [160, 160, 3], alpha: 1.0, includeTop: false })
      .dispose();
  },
});

Deno.bench({
  name: "read a 9 MB Keras .h5 (h5wasm)",
  n: 20,
  warmup: 2,
  fn: async () => {
    await readKerasWeights(bytes);
  },
});

Deno.bench({
  name: "read + load a 9 MB Keras .h5 into MobileNetV2 1.0 @160",
  n: 20,
  warmup: 2,
  fn: async () => {
    await loadKerasWeights(target, bytes);
  },
});
