/**
 * The training loss with Keras' class weights and label smoothing, as a
 * `compile` loss for TF.js:
 *
 * - **Label smoothing** (Keras' `label_smoothing`): the `"softmax"` head's
 *   categorical cross-entropy is taken against `y·(1 − ls) + ls/k`
 *   (`CategoricalCrossentropy`); the `"logit"` head's sigmoid cross-entropy
 *   from logits against `y·(1 − ls) + ls/2` (`BinaryCrossentropy(
 *   from_logits=True)`).
 * - **Class weights** (Keras' `fit(class_weight=…)`): each sample's loss is
 *   multiplied by its class' weight and the batch loss is the mean of
 *   `w · l` over the batch (Keras' `sum_over_batch_size`), not `Σwl / Σw`.
 *
 * The returned function gives one loss per sample; TF.js' `trainOnBatch`
 * averages it over the batch. With neither recipe it is the head's plain
 * loss from `head_output.ts` (`compileArgs`), so default runs are unchanged.
 * The validation loss keeps the smoothing but not the weights, as Keras'
 * (`batchStats`' `labelSmoothing`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "../deps/tf.ts";
 * import { trainingLoss } from "./training_loss.ts";
 * const loss = trainingLoss("softmax", { classWeights: [1, 3], labelSmoothing: 0 });
 * assert.equal(typeof loss, "function");
 * const l = (loss as (y: tf.Tensor, p: tf.Tensor) => tf.Tensor)(
 *   tf.tensor2d([[0, 1]]), tf.tensor2d([[0.5, 0.5]]));
 * assert.ok(Math.abs(l.dataSync()[0] - 3 * Math.log(2)) < 1e-6);
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { HeadOutput } from "../model/classifier.ts";
import {
  compileArgs,
  type LossFn,
  sigmoidCrossEntropyWithLogits,
} from "./head_output.ts";

/** Options of {@link trainingLoss}. */
export interface TrainingLossOptions {
  /** One weight per class (index order), or null/absent for none. */
  classWeights?: readonly number[] | null;
  /** Keras' label smoothing in [0, 1] (default 0). */
  labelSmoothing?: number;
}

/** Keras' epsilon, the clipping of probabilities. */
const EPSILON = 1e-7;

/**
 * Smoothed targets: `y·(1 − ls) + ls/k` for one-hot `[b, k]` labels, or
 * `y·(1 − ls) + ls/2` for the logit head's 0/1 `[b, 1]` labels.
 */
export function smoothLabels(
  output: HeadOutput,
  ys: tf.Tensor,
  labelSmoothing: number,
): tf.Tensor {
  if (labelSmoothing === 0) return ys;
  const k = output === "logit" ? 2 : ys.shape[ys.shape.length - 1]!;
  return tf.tidy(() =>
    tf.add(tf.mul(ys, 1 - labelSmoothing), labelSmoothing / k)
  );
}

/**
 * The `compile` loss of `output` with `opts`' class weights and label
 * smoothing (see the module notes); the plain head loss when neither is set.
 *
 * @throws {RangeError} for a smoothing outside [0, 1], or a weight list of
 * the wrong length for the logit head
 */
export function trainingLoss(
  output: HeadOutput,
  opts: TrainingLossOptions = {},
): string | LossFn {
  const ls = opts.labelSmoothing ?? 0;
  const weights = opts.classWeights ?? null;
  if (!(ls >= 0 && ls <= 1)) {
    throw new RangeError(`labelSmoothing: expected [0, 1], found ${ls}`);
  }
  if (ls === 0 && weights === null) return compileArgs(output).loss;
  if (output === "logit") {
    if (weights !== null && weights.length !== 2) {
      throw new RangeError(
        `class weights: the logit head has 2 classes, got ${weights.length} weights`,
      );
    }
    return (yTrue, yPred) =>
      tf.tidy(() => {
        const z = tf.cast(yTrue, "float32");
        const l = tf.mean(
          sigmoidCrossEntropyWithLogits(smoothLabels(output, z, ls), yPred),
          -1,
        );
        if (weights === null) return l;
        const [w0, w1] = weights;
        // The label is the class index: w0 + z·(w1 − w0).
        const w = tf.add(tf.mul(tf.reshape(z, l.shape), w1 - w0), w0);
        return tf.mul(l, w);
      });
  }
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const y = tf.cast(yTrue, "float32");
      // Keras' categorical_crossentropy on probabilities: renormalise, clip.
      const p = tf.clipByValue(
        tf.div(yPred, tf.sum(yPred, -1, true)),
        EPSILON,
        1 - EPSILON,
      );
      const l = tf.neg(
        tf.sum(tf.mul(smoothLabels(output, y, ls), tf.log(p)), -1),
      );
      if (weights === null) return l;
      if (weights.length !== y.shape[y.shape.length - 1]) {
        throw new RangeError(
          `class weights: ${weights.length} weights for ${
            y.shape[y.shape.length - 1]
          } classes`,
        );
      }
      return tf.mul(l, tf.sum(tf.mul(y, tf.tensor1d([...weights])), -1));
    });
}
