/**
 * Evaluation of a classifier on labelled data: confusion matrix, a per-class
 * report like scikit-learn's `classification_report`, and a batch-by-batch
 * `evaluateModel` that also returns loss and accuracy.
 *
 * Conventions: matrix rows are true classes, columns predicted classes
 * (`matrix[t][p]`, as sklearn's `confusion_matrix`). A ratio whose
 * denominator is 0 is defined as 0 (sklearn's `zero_division=0`): precision
 * of a class never predicted, recall of a class with no samples, and F1 when
 * precision and recall are both 0.
 *
 * @module
 */

import { concatRows } from "../util/arrays.ts";
import * as tf from "../deps/tf.ts";

/** Precision, recall, F1 and support (number of true samples) of a class. */
export interface ClassMetrics {
  /** TP / (TP + FP); 0 when the class is never predicted. */
  precision: number;
  /** TP / (TP + FN); 0 when the class has no samples. */
  recall: number;
  /** 2·TP / (2·TP + FP + FN), the harmonic mean of the two; 0 when 0/0. */
  f1: number;
  /** Number of samples whose true label is the class. */
  support: number;
}

/** Per-class metrics plus the summary rows of sklearn's report. */
export interface ClassificationReport {
  /** One entry per class, in label order, with the class name. */
  classes: (ClassMetrics & { name: string })[];
  /** Correct predictions / all samples (0 when there are none). */
  accuracy: number;
  /** Unweighted mean over all classes (support = all samples). */
  macroAvg: ClassMetrics;
  /** Mean weighted by each class's support (support = all samples). */
  weightedAvg: ClassMetrics;
}

function checkLabel(v: number, numClasses: number, what: string, i: number) {
  if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
    throw new RangeError(
      `${what}[${i}] = ${v} is not a class index in [0, ${numClasses})`,
    );
  }
}

/**
 * Counts `matrix[true][pred]` over paired label lists (class indices in
 * `[0, numClasses)`). Throws on different lengths or out-of-range labels.
 */
export function confusionMatrix(
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer`);
  }
  if (trueLabels.length !== predLabels.length) {
    throw new RangeError(
      `${trueLabels.length} true labels but ${predLabels.length} predictions`,
    );
  }
  const m = Array.from({ length: numClasses }, () => Array(numClasses).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i], p = predLabels[i];
    checkLabel(t, numClasses, "trueLabels", i);
    checkLabel(p, numClasses, "predLabels", i);
    m[t][p]++;
  }
  return m;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/**
 * Per-class precision/recall/F1/support, accuracy, and macro and weighted
 * averages from a square confusion matrix (rows true, columns predicted),
 * as sklearn's `classification_report(..., zero_division=0)` with every
 * class listed.
 */
export function classificationReport(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
): ClassificationReport {
  const k = matrix.length;
  if (classNames.length !== k || matrix.some((r) => r.length !== k)) {
    throw new RangeError(
      `confusion matrix must be ${classNames.length}×${classNames.length} ` +
        `(one row and column per class name)`,
    );
  }
  let total = 0, correct = 0;
  const classes = classNames.map((name, c) => {
    let support = 0, predicted = 0;
    for (let j = 0; j < k; j++) {
      support += matrix[c][j];
      predicted += matrix[j][c];
    }
    const tp = matrix[c][c];
    total += support;
    correct += tp;
    return {
      name,
      precision: ratio(tp, predicted),
      recall: ratio(tp, support),
      f1: ratio(2 * tp, support + predicted),
      support,
    };
  });
  const avg = (weight: (s: number) => number): ClassMetrics => {
    const wsum = classes.reduce((a, c) => a + weight(c.support), 0);
    const mean = (key: "precision" | "recall" | "f1") =>
      ratio(classes.reduce((a, c) => a + weight(c.support) * c[key], 0), wsum);
    return {
      precision: mean("precision"),
      recall: mean("recall"),
      f1: mean("f1"),
      support: total,
    };
  };
  return {
    classes,
    accuracy: ratio(correct, total),
    macroAvg: avg(() => 1),
    weightedAvg: avg((s) => s),
  };
}

/**
 * Formats a report as the text table sklearn prints (2 decimals by default).
 */
export function formatClassificationReport(
  report: ClassificationReport,
  digits = 2,
): string {
  const names = [...report.classes.map((c) => c.name), "weighted avg"];
  const w = Math.max(...names.map((n) => n.length));
  const num = (v: number) => v.toFixed(digits).padStart(10);
  const int = (v: number) => String(v).padStart(10);
  const row = (name: string, m: ClassMetrics) =>
    name.padStart(w) + num(m.precision) + num(m.recall) + num(m.f1) +
    int(m.support);
  const support = report.macroAvg.support;
  return [
    " ".repeat(w) + ["precision", "recall", "f1-score", "support"]
      .map((h) => h.padStart(10)).join(""),
    "",
    ...report.classes.map((c) => row(c.name, c)),
    "",
    "accuracy".padStart(w) + " ".repeat(20) + num(report.accuracy) +
    int(support),
    row("macro avg", report.macroAvg),
    row("weighted avg", report.weightedAvg),
  ].join("\n");
}

/** Anything with `predict` returning class probabilities (e.g. a LayersModel). */
export interface Predictor {
  /** `[batch, numClasses]` probabilities, or `[batch, 1]` sigmoid for 2 classes. */
  predict(x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[];
}

/**
 * A labelled batch: images and one-hot `[batch, k]`, index `[batch]` or
 * (2 classes) 0/1 `[batch, 1]` labels.
 */
export interface LabelledBatch {
  /** Model input (several for a multi-input model). */
  xs: tf.Tensor | tf.Tensor[];
  /**
   * One-hot labels `[batch, numClasses]`, class indices `[batch]`, or with
   * 2 classes the logit head's 0/1 labels `[batch, 1]`.
   */
  ys: tf.Tensor;
}

/** What {@link evaluateModel} returns. */
export interface Evaluation {
  /** Confusion matrix, rows true and columns predicted. */
  matrix: number[][];
  /** Per-class metrics and averages. */
  report: ClassificationReport;
  /**
   * Mean cross-entropy over all samples (Keras' clipping, ε = 1e-7); NaN
   * when there are none.
   */
  loss: number;
  /** Fraction predicted correctly (same as `report.accuracy`). */
  accuracy: number;
  /** Number of samples evaluated. */
  count: number;
  /**
   * Class probabilities per sample, `[count, numClasses]` row-major in the
   * order evaluated (a single sigmoid output becomes `[1 − p, p]`).
   */
  probabilities: Float32Array;
}

/**
 * Runs `model` over `batches` one at a time (predicted class = argmax, or
 * p > 0.5 for a single sigmoid output with 2 classes) and returns the
 * confusion matrix, report, loss and accuracy. Each batch's `xs` and `ys` are
 * disposed after use (pass `{ disposeBatches: false }` to keep them), as is
 * every intermediate tensor.
 */
export async function evaluateModel(
  model: Predictor,
  batches: Iterable<LabelledBatch> | AsyncIterable<LabelledBatch>,
  classNames: readonly string[],
  options: { disposeBatches?: boolean } = {},
): Promise<Evaluation> {
  const k = classNames.length;
  const trues: number[] = [], preds: number[] = [];
  const probParts: Float32Array[] = [];
  let lossSum = 0;
  for await (const { xs, ys } of batches) {
    try {
      const [t, p, l, q] = tf.tidy(() => {
        const out = model.predict(xs);
        const probs = tf.cast(Array.isArray(out) ? out[0] : out, "float32");
        const n = probs.shape[0];
        const cols = probs.shape[1] ?? 1;
        const sigmoid = cols === 1 && k === 2;
        if (!sigmoid && cols !== k) {
          throw new RangeError(
            `model outputs ${cols} columns for ${k} classes`,
          );
        }
        // Class indices [n], one-hot [n, k], or (2 classes) 0/1 [n, 1].
        const labels = ys.rank === 1 || (k === 2 && ys.size === n)
          ? tf.cast(tf.reshape(ys, [n]), "int32")
          : tf.argMax(tf.reshape(ys, [n, -1]), 1);
        const eps = 1e-7;
        let pred: tf.Tensor, loss: tf.Tensor;
        const rows = sigmoid
          ? tf.concat(
            [tf.sub(1, tf.reshape(probs, [n, 1])), tf.reshape(probs, [n, 1])],
            1,
          )
          : tf.reshape(probs, [n, k]);
        if (sigmoid) {
          const p1 = tf.clipByValue(tf.reshape(probs, [n]), eps, 1 - eps);
          const y = tf.cast(labels, "float32");
          // Keras' BinaryAccuracy: class 1 when p > 0.5 (a tie is class 0,
          // as argmax of [1 − p, p] and a logit at threshold 0 say).
          pred = tf.cast(tf.greater(tf.reshape(probs, [n]), 0.5), "int32");
          loss = tf.neg(tf.add(
            tf.mul(y, tf.log(p1)),
            tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p1))),
          ));
        } else {
          const p = tf.reshape(probs, [n, k]);
          pred = tf.argMax(p, 1);
          // Keras: rescale rows to sum 1, clip to [ε, 1 − ε], −Σ y·log p.
          const q = tf.clipByValue(
            tf.div(p, tf.sum(p, 1, true)),
            eps,
            1 - eps,
          );
          loss = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, k), tf.log(q)), 1));
        }
        return [labels, pred, tf.sum(loss), rows];
      });
      try {
        const [tv, pv, lv, qv] = await Promise.all([
          t.data(),
          p.data(),
          l.data(),
          q.data(),
        ]);
        for (let i = 0; i < tv.length; i++) {
          trues.push(tv[i]);
          preds.push(pv[i]);
        }
        lossSum += lv[0];
        probParts.push(qv as Float32Array);
      } finally {
        tf.dispose([t, p, l, q]);
      }
    } finally {
      if (options.disposeBatches ?? true) tf.dispose([xs, ys]);
    }
  }
  const matrix = confusionMatrix(trues, preds, k);
  const report = classificationReport(matrix, classNames);
  const count = trues.length;
  return {
    matrix,
    report,
    loss: count === 0 ? NaN : lossSum / count,
    accuracy: report.accuracy,
    count,
    probabilities: concatRows(probParts),
  };
}

/**
 * The same {@link Evaluation} from probabilities already computed (e.g. by
 * the last epoch's validation pass) and the true labels: no model runs.
 * `probabilities` is `[labels.length, classNames.length]` row-major.
 */
export function evaluateProbabilities(
  probabilities: Float32Array,
  labels: ArrayLike<number>,
  classNames: readonly string[],
): Evaluation {
  const k = classNames.length;
  const n = labels.length;
  if (probabilities.length !== n * k) {
    throw new RangeError(
      `${probabilities.length} probabilities for ${n} samples × ${k} classes`,
    );
  }
  const preds: number[] = [];
  let lossSum = 0;
  for (let i = 0; i < n; i++) {
    const row = probabilities.subarray(i * k, (i + 1) * k);
    let top = 0;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      sum += row[c];
      if (row[c] > row[top]) top = c;
    }
    preds.push(top);
    // Keras: rescale rows to sum 1, clip to [ε, 1 − ε], −log p(true).
    const p = Math.min(Math.max(row[labels[i]] / sum, 1e-7), 1 - 1e-7);
    lossSum -= Math.log(p);
  }
  const matrix = confusionMatrix(Array.from(labels), preds, k);
  const report = classificationReport(matrix, classNames);
  return {
    matrix,
    report,
    loss: n === 0 ? NaN : lossSum / n,
    accuracy: report.accuracy,
    count: n,
    probabilities,
  };
}
