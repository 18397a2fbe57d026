/**
 * Batch sources for {@link fitLoop}: decoded images (optionally augmented)
 * or cached feature vectors. Both use the same seeded per-epoch order
 * ({@link epochOrder}), so training the head on cached features sees exactly
 * the batches that training the full model on images would.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import {
  type Batch,
  batchCount,
  epochOrder,
  makeBatch,
  type Preprocess,
} from "../data/batches.ts";
import type { ImageSet } from "../data/image_set.ts";
import type { BatchSource, XYBatch } from "./fit.ts";
import type { FrozenForward } from "../engine/frozen_engine.ts";
import { encodeLabels, type LabelEncoding } from "./head_output.ts";

/** Ordering and label options shared by both sources. */
export interface SourceOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Reshuffle each epoch. */
  shuffle: boolean;
  /** Seed of the shuffles. */
  seed: number;
  /**
   * How `ys` encodes the labels (`labelEncodingOf(model.head.output)`):
   * one-hot `[b, k]` (default) or 0/1 `[b, 1]` for the logit head.
   */
  labels?: LabelEncoding;
}

/**
 * Batches of images from a decoded set, converted to float32 per batch and
 * preprocessed; `augment`, when given, transforms each batch's images
 * (training data only).
 */
export function imageSource(
  set: ImageSet,
  opts: SourceOptions & {
    preprocess: Preprocess;
    augment?:
      | ((xs: tf.Tensor4D, epoch: number, batch: number) => tf.Tensor4D)
      | null;
  },
): BatchSource {
  return {
    count: set.count,
    numBatches: batchCount(set.count, opts.batchSize),
    *batches(epoch: number): Generator<XYBatch> {
      const order = epochOrder(set.count, epoch, opts);
      for (let b = 0; b * opts.batchSize < set.count; b++) {
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        // makeBatch's labels are one-hot: other encodings replace them.
        const ys = (opts.labels ?? "one-hot") === "one-hot"
          ? null
          : encodeLabels(
            idx.map((i) => set.labels[i]),
            set.classNames.length,
            opts.labels,
          );
        let batch: Batch;
        try {
          batch = makeBatch(set, idx, opts.preprocess);
        } catch (err) {
          ys?.dispose();
          throw err;
        }
        if (ys) {
          batch.ys.dispose();
          batch.ys = ys;
        }
        if (opts.augment) {
          const xs = opts.augment(batch.xs, epoch, b);
          if (xs !== batch.xs) batch.xs.dispose();
          batch.xs = xs;
        }
        yield batch;
      }
    },
  };
}

/** Feature vectors `[count, featureSize]` (row-major) with their labels. */
export interface FeatureSet {
  /** Pooled base outputs, one row per image, in the image set's order. */
  features: Float32Array;
  /** Length of one feature vector. */
  featureSize: number;
  /** Class index of each row. */
  labels: Int32Array;
  /** Number of classes (for the labels' encoding). */
  numClasses: number;
}

/**
 * Batches of cached features, in the same order an {@link imageSource} of
 * the same set would give. With several `sets` (the features of each flip
 * of the same images), `pick(epoch, batch, size)` says which set each image
 * of a batch comes from — the exact cache of flip-only augmentation.
 */
export function featureSource(
  sets: FeatureSet | readonly FeatureSet[],
  opts: SourceOptions,
  pick?: (epoch: number, batch: number, size: number) => Uint8Array,
): BatchSource {
  const all = Array.isArray(sets) ? sets : [sets as FeatureSet];
  const set = all[0];
  const count = set.labels.length;
  const { featureSize: f, numClasses: k } = set;
  return {
    count,
    numBatches: batchCount(count, opts.batchSize),
    *batches(epoch: number): Generator<XYBatch> {
      const order = epochOrder(count, epoch, opts);
      for (let start = 0; start < count; start += opts.batchSize) {
        const idx = order.slice(start, start + opts.batchSize);
        const from = pick?.(epoch, start / opts.batchSize, idx.length);
        const xs = new Float32Array(idx.length * f);
        idx.forEach((i, b) => {
          const src = all[from ? from[b] : 0].features;
          xs.set(src.subarray(i * f, (i + 1) * f), b * f);
        });
        const ys = encodeLabels(
          idx.map((i) => set.labels[i]),
          k,
          opts.labels,
        );
        yield { xs: tf.tensor2d(xs, [idx.length, f]), ys };
      }
    },
  };
}

/**
 * Maps each batch's images to pooled features with the frozen `features`
 * engine (base + pooling: ONNX Runtime or TF.js) as the batches are drawn:
 * the base runs every epoch, but outside any gradient tape, so training the
 * head on these batches equals training the full frozen classifier at
 * inference memory.
 */
export function onTheFlyFeatures(
  source: BatchSource,
  features: FrozenForward,
): BatchSource {
  return {
    count: source.count,
    numBatches: source.numBatches,
    async *batches(epoch: number): AsyncGenerator<XYBatch> {
      for await (const { xs, ys } of source.batches(epoch)) {
        let pooled: tf.Tensor;
        try {
          pooled = await features.run(xs as tf.Tensor4D);
        } catch (err) {
          ys.dispose();
          throw err;
        } finally {
          tf.dispose(xs);
        }
        yield { xs: pooled, ys };
      }
    },
  };
}
