/**
 * Calibration images for static int8 ONNX models (`engine/onnx_quantize.ts`):
 * the first images of a seeded shuffle of a split, preprocessed as in
 * training (the base's scaling: x / 127.5 − 1 for MobileNetV2, raw pixels for
 * bases that rescale inside), without augmentation.
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { ImageSet } from "../data/image_set.ts";
import { mobileNetV2Preprocess, type Preprocess } from "../data/batches.ts";
import type { CalibrationBatch } from "../engine/onnx_quantize.ts";
import { imageSource } from "./sources.ts";

/** Up to `limit` preprocessed images of `set` in a `seed`ed shuffle, in batches of 8. */
export async function* calibrationBatches(
  set: ImageSet,
  limit: number,
  seed: number,
  preprocess: Preprocess = mobileNetV2Preprocess,
): AsyncGenerator<CalibrationBatch> {
  const source = imageSource(set, {
    batchSize: 8,
    shuffle: true,
    seed,
    preprocess,
  });
  let taken = 0;
  for await (const batch of source.batches(0)) {
    batch.ys.dispose();
    const xs = batch.xs as tf.Tensor4D;
    try {
      if (taken >= limit) continue;
      const n = Math.min(xs.shape[0], limit - taken);
      const [, h, w, c] = xs.shape;
      const data = (await xs.data() as Float32Array).subarray(0, n * h * w * c);
      taken += n;
      yield { data, shape: [n, h, w, c] };
    } finally {
      xs.dispose();
    }
  }
}
