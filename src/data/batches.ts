/**
 * Step 5 of the data pipeline: turn an {@link ImageSet} (uint8 pixels) into
 * `[batch, h, w, 3]` float32 tensors with one-hot labels.
 *
 * Images are read one batch at a time through {@link ImageSet.readImage}
 * (from the decode cache, or from memory when there is none) straight into
 * the batch's float32 buffer, and passed through the model's
 * preprocessing (e.g. {@link mobileNetV2Preprocess}: x / 127.5 − 1). The
 * order is reshuffled every epoch from the seed, reproducibly. Training
 * reads batches through `src/train/sources.ts`.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { ImageSet } from "./image_set.ts";
import { deriveSeed, shuffleInPlace } from "../util/rng.ts";

/** Maps a float32 `[b, h, w, 3]` batch of 0–255 values to the model's input range. */
export type Preprocess = (images: tf.Tensor4D) => tf.Tensor4D;

/** MobileNetV2's preprocessing (`keras.applications.mobilenet_v2.preprocess_input`): x / 127.5 − 1. */
export const mobileNetV2Preprocess: Preprocess = (
  images: tf.Tensor4D,
): tf.Tensor4D =>
  tf.tidy(() => tf.sub(tf.div(images, 127.5), 1) as tf.Tensor4D);

/**
 * The input preprocessings of the bases, by the name `preprocessing.json`
 * records: `"mobilenet_v2"` ({@link mobileNetV2Preprocess}) or `"identity"`
 * (raw 0–255 pixels: the model rescales inside, as Keras' MobileNetV3 and
 * EfficientNets do).
 */
export type PreprocessName = "mobilenet_v2" | "identity";

/**
 * Raw 0–255 pixels, unchanged (a new tensor handle, so callers may dispose
 * input and output apart, as with the other preprocessings).
 */
export const identityPreprocess: Preprocess = (
  images: tf.Tensor4D,
): tf.Tensor4D => tf.clone(images);

/** The {@link Preprocess} of a {@link PreprocessName}; throws for another name. */
export function preprocessFor(name: PreprocessName): Preprocess {
  if (name === "mobilenet_v2") return mobileNetV2Preprocess;
  if (name === "identity") return identityPreprocess;
  throw new Error(
    `unknown preprocessing ${
      JSON.stringify(name)
    } (expected "mobilenet_v2" or "identity")`,
  );
}

/** One batch: images and one-hot labels. */
export type Batch = {
  /** float32 `[b, h, w, 3]`, preprocessed. */
  xs: tf.Tensor4D;
  /** float32 `[b, numClasses]`, one-hot. */
  ys: tf.Tensor2D;
};

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/** Number of batches per epoch. */
export function batchCount(count: number, batchSize: number): number {
  checkBatchSize(batchSize);
  return Math.ceil(count / batchSize);
}

/**
 * The order of images in `epoch` (0-based): a seeded permutation that
 * differs from epoch to epoch, or `0..count-1` when `shuffle` is false.
 */
export function epochOrder(
  count: number,
  epoch: number,
  opts: { shuffle?: boolean; seed?: number } = {},
): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  if (opts.shuffle ?? true) {
    shuffleInPlace(order, deriveSeed(opts.seed ?? 42, 2, epoch));
  }
  return order;
}

/**
 * Builds one batch from the images at `indices` of `set`: float32 pixels,
 * passed through `preprocess`, and one-hot labels. The caller owns (and
 * must dispose) the returned tensors.
 */
export function makeBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  preprocess?: Preprocess,
): Batch {
  const n = indices.length;
  const stride = set.height * set.width * 3;
  const numClasses = set.classNames.length;
  const pixels = new Float32Array(n * stride);
  const labels = new Float32Array(n * numClasses);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < set.count)) {
      throw new RangeError(`image index ${i} out of range 0..${set.count - 1}`);
    }
    set.readImage(i, pixels, b * stride); // uint8 -> float32
    labels[b * numClasses + set.labels[i]] = 1;
  }
  const ys = tf.tensor2d(labels, [n, numClasses], "float32");
  const raw = tf.tensor4d(pixels, [n, set.height, set.width, 3], "float32");
  if (!preprocess) return { xs: raw, ys };
  let xs: tf.Tensor4D;
  try {
    xs = preprocess(raw);
  } catch (e) {
    raw.dispose();
    ys.dispose();
    throw e;
  }
  if (xs !== raw) raw.dispose();
  return { xs, ys };
}
