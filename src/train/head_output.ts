/**
 * Everything training does differently per head output (config
 * `model.head.output`), in one place: how labels are encoded, which loss and
 * accuracy `compile` gets, and how one batch of the trained model's outputs
 * becomes a loss sum, a count of correct predictions and class
 * probabilities (validation, evaluation, top losses).
 *
 * - `"softmax"`: one-hot labels `[b, k]`; categorical cross-entropy with
 *   Keras' clipping at 1e-7; accuracy = argmax.
 * - `"logit"` (2 classes, the TensorFlow tutorial's head): labels are class
 *   index 1 as 0/1, `[b, 1]`; the model outputs one logit `x`; the loss is
 *   Keras' `BinaryCrossentropy(from_logits=True)` — TensorFlow's
 *   `sigmoid_cross_entropy_with_logits`, `max(x, 0) − x·z + log(1 + e^−|x|)`,
 *   averaged over the batch — and the accuracy Keras'
 *   `BinaryAccuracy(threshold=0)`: class 1 when `x > 0`. Class
 *   probabilities are `[σ(−x), σ(x)]` (σ(−x) rather than 1 − σ(x), which
 *   keeps the small probability of a confident prediction accurate).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { HeadOutput } from "../model/classifier.ts";

/** How a batch's labels are given to the trained model. */
export type LabelEncoding = "one-hot" | "binary";

/** The label encoding the head output trains on. */
export function labelEncodingOf(output: HeadOutput): LabelEncoding {
  return output === "logit" ? "binary" : "one-hot";
}

/**
 * The label tensor of a batch from its class indices: one-hot
 * `[n, numClasses]` float32, or for `"binary"` (2 classes only) class 1 as
 * 1 and class 0 as 0, `[n, 1]` float32.
 */
export function encodeLabels(
  classes: ArrayLike<number>,
  numClasses: number,
  encoding: LabelEncoding = "one-hot",
): tf.Tensor2D {
  const n = classes.length;
  if (encoding === "binary") {
    if (numClasses !== 2) {
      throw new RangeError(
        `binary labels (the logit head) need 2 classes, got ${numClasses}`,
      );
    }
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      checkClass(classes[i], 2, i);
      ys[i] = classes[i];
    }
    return tf.tensor2d(ys, [n, 1]);
  }
  const ys = new Float32Array(n * numClasses);
  for (let i = 0; i < n; i++) {
    checkClass(classes[i], numClasses, i);
    ys[i * numClasses + classes[i]] = 1;
  }
  return tf.tensor2d(ys, [n, numClasses]);
}

function checkClass(c: number, numClasses: number, i: number): void {
  if (!(Number.isInteger(c) && c >= 0 && c < numClasses)) {
    throw new RangeError(
      `label ${i} is ${c}, not a class index in [0, ${numClasses})`,
    );
  }
}

/**
 * Element-wise sigmoid cross-entropy of `logits` against 0/1 `labels`, as
 * TensorFlow's `sigmoid_cross_entropy_with_logits` writes it (with `where`,
 * so the gradient at a logit of exactly 0 is σ(0) − z, as in TensorFlow):
 * `max(x, 0) − x·z + log1p(exp(−|x|))`.
 */
export function sigmoidCrossEntropyWithLogits(
  labels: tf.Tensor,
  logits: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.cast(logits, "float32");
    const z = tf.cast(labels, "float32");
    const positive = tf.greaterEqual(x, 0);
    const zeros = tf.zerosLike(x);
    const reluLogits = tf.where(positive, x, zeros);
    const negAbsLogits = tf.where(positive, tf.neg(x), x);
    return tf.add(
      tf.sub(reluLogits, tf.mul(x, z)),
      tf.log1p(tf.exp(negAbsLogits)),
    );
  });
}

/**
 * Keras' `binary_crossentropy(y_true, y_pred, from_logits=True)` per sample
 * (mean over the last axis); `compile` averages it over the batch, as
 * `BinaryCrossentropy`'s default reduction does.
 */
export function binaryCrossentropyFromLogits(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() =>
    tf.mean(sigmoidCrossEntropyWithLogits(yTrue, yPred), -1)
  );
}

/**
 * Keras' `BinaryAccuracy(threshold=0)` per sample on logits: predicted 1
 * when `logit > 0` (strictly), compared with the 0/1 label.
 */
export function binaryAccuracyFromLogits(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() =>
    tf.mean(
      tf.cast(
        tf.equal(
          tf.cast(tf.greater(yPred, 0), "float32"),
          tf.cast(yTrue, "float32"),
        ),
        "float32",
      ),
      -1,
    )
  );
}

/** A loss or metric `compile` accepts as a function. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The `loss` and `metrics` of `model.compile` for a head output. */
export function compileArgs(
  output: HeadOutput,
): { loss: string | LossFn; metrics: (string | LossFn)[] } {
  return output === "logit"
    ? {
      loss: binaryCrossentropyFromLogits,
      metrics: [binaryAccuracyFromLogits],
    }
    : { loss: "categoricalCrossentropy", metrics: ["accuracy"] };
}

/** What {@link batchStats} returns (tensors owned by the caller). */
export interface BatchStats {
  /** Sum of the per-sample losses, a scalar. */
  lossSum: tf.Scalar;
  /** Number of correct predictions, a scalar. */
  correct: tf.Scalar;
  /** Class probabilities, `[n, numClasses]`. */
  probabilities: tf.Tensor2D;
}

/**
 * Loss sum, correct count and class probabilities of one batch: `out` is
 * what the trained model outputs (probabilities `[n, k]` for `"softmax"`,
 * logits `[n, 1]` for `"logit"`), `ys` the labels in the head's encoding.
 * The softmax loss is Keras' categorical cross-entropy on probabilities
 * (clipped to [1e-7, 1 − 1e-7]); the logit loss is exact (no clipping).
 * `labelSmoothing` (default 0) smooths the labels of the loss as Keras'
 * `label_smoothing` does; the accuracy always uses the labels as given.
 */
export function batchStats(
  output: HeadOutput,
  out: tf.Tensor,
  ys: tf.Tensor,
  labelSmoothing = 0,
): BatchStats {
  // Keras' label_smoothing: y·(1 − ls) + ls/k (k = 2 for the logit head).
  const smooth = (y: tf.Tensor, k: number) =>
    labelSmoothing === 0
      ? y
      : tf.add(tf.mul(y, 1 - labelSmoothing), labelSmoothing / k);
  const [lossSum, correct, probabilities] = tf.tidy(() => {
    if (output === "logit") {
      const n = out.shape[0];
      if (out.size !== n || ys.size !== n) {
        throw new RangeError(
          `the logit head needs one logit and one 0/1 label per sample, got outputs [${out.shape}] and labels [${ys.shape}]`,
        );
      }
      const x = tf.cast(tf.reshape(out, [n, 1]), "float32");
      const z = tf.reshape(ys, [n, 1]);
      return [
        tf.sum(sigmoidCrossEntropyWithLogits(smooth(z, 2), x)),
        tf.sum(binaryAccuracyFromLogits(z, x)),
        tf.concat([tf.sigmoid(tf.neg(x)), tf.sigmoid(x)], 1),
      ];
    }
    const p = tf.clipByValue(out, 1e-7, 1 - 1e-7);
    return [
      tf.neg(tf.sum(tf.mul(smooth(ys, ys.shape[1]!), tf.log(p)))),
      tf.sum(tf.equal(tf.argMax(p, -1), tf.argMax(ys, -1))),
      tf.cast(out, "float32"),
    ];
  });
  return {
    lossSum: lossSum as tf.Scalar,
    correct: correct as tf.Scalar,
    probabilities: probabilities as tf.Tensor2D,
  };
}

/**
 * Class probabilities per sample from a classifier's output values
 * (row-major): the rows as they are when there are `numClasses` values per
 * sample, or `[1 − p, p]` from a single sigmoid probability per sample with
 * 2 classes (the saved logit head; computed in double precision, so each
 * row sums to exactly 1). Throws when the sizes fit neither.
 */
export function classProbabilities(
  values: ArrayLike<number>,
  n: number,
  numClasses: number,
): number[][] {
  if (values.length === n * numClasses) {
    return Array.from(
      { length: n },
      (_, i) =>
        Array.from(
          { length: numClasses },
          (_, c) => values[i * numClasses + c],
        ),
    );
  }
  if (numClasses === 2 && values.length === n) {
    return Array.from({ length: n }, (_, i) => [1 - values[i], values[i]]);
  }
  throw new RangeError(
    `model outputs ${values.length} values for ${n} images of ${numClasses} classes (expected ${
      n * numClasses
    }${numClasses === 2 ? ` or ${n}` : ""})`,
  );
}
