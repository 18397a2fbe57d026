/**
 * What a smaller copy of a model costs in accuracy: the probabilities of a
 * model variant (quantized TF.js weights, ONNX fp16 or int8) over a labelled
 * image set, compared with the float32 model's on the same images — top-1
 * agreement, the largest change of any class probability (max |Δp|), and
 * accuracy. Numbers are measured, never assumed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareWithReference } from "./variant_costs.ts";
 * const ref = [[0.9, 0.1], [0.4, 0.6]];
 * const got = [[0.8, 0.2], [0.6, 0.4]];
 * const c = compareWithReference(ref, got, [0, 0]);
 * assert.equal(c.agreement, 0.5);
 * assert.ok(Math.abs(c.maxAbsDiff - 0.2) < 1e-12);
 * assert.equal(c.accuracy, 1);
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { ImageSet } from "../data/image_set.ts";
import { mobileNetV2Preprocess, type Preprocess } from "../data/batches.ts";
import type { FrozenForward } from "../engine/frozen_engine.ts";
import { imageSource } from "../train/sources.ts";
import { classProbabilities } from "../train/head_output.ts";

/**
 * A model's forward pass on a preprocessed NHWC float32 batch, resolving
 * to its raw output rows (`[n, k]` probabilities, or the logit head's
 * `[n, 1]` sigmoid).
 */
export type RawForward = (
  input: Float32Array,
  shape: [number, number, number, number],
) => Promise<Float32Array>;

/** A {@link RawForward} running a frozen-forward engine (its first output). */
export function rawForwardOf(forward: FrozenForward): RawForward {
  return async (input, shape) => {
    const x = tf.tensor4d(input, shape);
    try {
      return (await forward.runAll(x))[0];
    } finally {
      x.dispose();
    }
  };
}

/**
 * Class probabilities (`[count][classes]`) of `forward` over `set`, in set
 * order, with training's preprocessing (x / 127.5 − 1).
 */
export async function setProbabilities(
  set: ImageSet,
  forward: RawForward,
  opts: { batchSize?: number; limit?: number; preprocess?: Preprocess } = {},
): Promise<number[][]> {
  const k = set.classNames.length;
  const limit = Math.min(opts.limit ?? set.count, set.count);
  const out: number[][] = [];
  const source = imageSource(set, {
    batchSize: opts.batchSize ?? 32,
    shuffle: false,
    seed: 0,
    preprocess: opts.preprocess ?? mobileNetV2Preprocess,
  });
  for await (const batch of source.batches(0)) {
    batch.ys.dispose();
    const xs = batch.xs as tf.Tensor4D;
    try {
      if (out.length >= limit) continue;
      const shape = xs.shape as [number, number, number, number];
      const rows = classProbabilities(
        await forward(await xs.data() as Float32Array, shape),
        shape[0],
        k,
      );
      out.push(...rows.slice(0, limit - out.length));
    } finally {
      xs.dispose();
    }
  }
  return out;
}

/** How a variant's predictions compare with the reference's. */
export interface VariantComparison {
  /** Images compared. */
  count: number;
  /** Fraction of images whose top class equals the reference's. */
  agreement: number;
  /** Largest |p − p_ref| over every image and class. */
  maxAbsDiff: number;
  /** Fraction of images whose top class is the label. */
  accuracy: number;
}

function argmax(p: readonly number[]): number {
  let top = 0;
  for (let c = 1; c < p.length; c++) if (p[c] > p[top]) top = c;
  return top;
}

/** Compares `probs` with `reference` (same images, same order) and the labels. */
export function compareWithReference(
  reference: readonly (readonly number[])[],
  probs: readonly (readonly number[])[],
  labels: ArrayLike<number>,
): VariantComparison {
  if (reference.length !== probs.length || probs.length > labels.length) {
    throw new RangeError(
      `compare: ${probs.length} predictions, ${reference.length} reference rows, ${labels.length} labels`,
    );
  }
  let agree = 0, correct = 0, maxAbsDiff = 0;
  probs.forEach((p, i) => {
    const top = argmax(p);
    if (top === argmax(reference[i])) agree++;
    if (top === labels[i]) correct++;
    p.forEach((v, c) => {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - reference[i][c]));
    });
  });
  const n = probs.length;
  return {
    count: n,
    agreement: n ? agree / n : NaN,
    maxAbsDiff,
    accuracy: n ? correct / n : NaN,
  };
}

/** One variant's record in `summary.json` (`shipping`). */
export interface VariantCost extends VariantComparison {
  /** Variant name: "float32", "float16", "uint8", "uint16" (TF.js), "fp32", "fp16", "int8" (ONNX). */
  variant: string;
  /** Its file or folder, relative to the run folder. */
  path: string;
  /** Bytes on disk (TF.js: the weight files; ONNX: the model file). */
  bytes: number;
  /** `bytes` over the float32 model's of the same format. */
  sizeRatio: number;
  /** Whether the file was kept (int8 below `output.onnxInt8MinAgreement` is not). */
  written: boolean;
  /** Why not, or other remarks. */
  note?: string;
}
