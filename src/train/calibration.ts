/**
 * Calibration images for static int8 ONNX models (`engine/onnx_quantize.ts`):
 * the first images of a seeded shuffle of a split, preprocessed as in
 * training (x / 127.5 − 1), without augmentation.
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { ImageSet } from "../data/image_set.ts";
import { mobileNetV2Preprocess } from "../data/batches.ts";
import type { CalibrationBatch } from "../engine/onnx_quantize.ts";
import { imageSource } from "./sources.ts";

/** Up to `limit` preprocessed images of `set` in a `seed`ed shuffle, in batches of 8. */
export async function* calibrationBatches(
  set: ImageSet,
  limit: number,
  seed: number,
): AsyncGenerator<CalibrationBatch> {
  const source = imageSource(set, {
    batchSize: 8,
    shuffle: true,
    seed,
    preprocess: mobileNetV2Preprocess,
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
