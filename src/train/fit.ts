/**
 * The training loop: epochs of `trainOnBatch` over a batch source, with a
 * validation pass after each epoch, Keras-style callbacks, NaN/inf
 * detection and a stop signal that ends training after the current batch.
 *
 * It is written out (rather than `model.fitDataset`) so that a stop request
 * takes effect after exactly one more batch, a non-finite loss stops the run
 * at the batch that produced it, and the same loop trains a full classifier
 * on images or only its head on cached features.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { batchStats } from "./head_output.ts";
import { concatRows } from "../util/arrays.ts";
import { learningRateOf } from "./optimizer_rate.ts";
import type { HeadOutput } from "../model/classifier.ts";

/** One batch of inputs (images or features) and labels. */
/** One epoch's metrics, as the loop reports it and `metrics.csv` stores it. */
export interface MetricsRow {
  /** 1-based epoch number; continues across stages. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Mean training accuracy over the epoch. */
  accuracy: number;
  /** Validation loss after the epoch (NaN when there was no validation). */
  val_loss: number;
  /** Validation accuracy after the epoch (NaN when there was no validation). */
  val_accuracy: number;
  /** Wall seconds the epoch took. */
  seconds: number;
  /** Training stage, e.g. `"frozen"` or `"fine_tune"` (issue 6). */
  stage?: string;
  /**
   * The optimizer's learning rate at the end of the epoch, before
   * ReduceLROnPlateau acts (what Keras logs as `learning_rate`; with a
   * schedule, the next step's rate). Absent in files written before it.
   */
  lr?: number;
}

/** One batch of model inputs and targets. */
export interface XYBatch {
  /** Model input, `[b, ...]` (several for a multi-input model). */
  xs: tf.Tensor | tf.Tensor[];
  /**
   * Labels in the head's encoding: one-hot `[b, numClasses]`, or 0/1
   * `[b, 1]` for the logit head (see `head_output.ts`).
   */
  ys: tf.Tensor2D;
}

/**
 * Something that yields the batches of an epoch. The loop disposes every
 * batch it receives.
 */
export interface BatchSource {
  /** Examples per epoch. */
  count: number;
  /** Batches per epoch. */
  numBatches: number;
  /** The batches of `epoch` (0-based, across stages): the shuffle may depend on it. */
  batches(epoch: number): Iterable<XYBatch> | AsyncIterable<XYBatch>;
}

/** Keras-style hooks; a {@link Progbar} fits here. */
export interface FitCallbacks {
  /** Before an epoch (0-based index across stages). */
  onEpochBegin?: (epoch: number) => void | Promise<void>;
  /** After each batch with that batch's `loss`, `accuracy` and `size`. */
  onBatchEnd?: (
    batch: number,
    logs: Record<string, number>,
  ) => void | Promise<void>;
  /** After an epoch with its means and `val_loss` / `val_accuracy`, and the epoch's metrics row. */
  onEpochEnd?: (
    epoch: number,
    logs: Record<string, number>,
    row: MetricsRow,
  ) => void | Promise<void>;
  /**
   * Asked after every epoch's `onEpochEnd` hooks (Keras' `stop_training`):
   * a non-empty string ends training after that epoch, with
   * `stopReason: "early-stopped"` and the string as `detail`.
   */
  shouldStop?: () => string | null | undefined;
  /**
   * Called once when {@link fitLoop} returns, whatever the stop reason, with
   * the result it is about to return (Keras' `on_train_end`; e.g. restoring
   * the best weights). Not called when the loop throws.
   */
  onFitEnd?: (result: FitResult) => void | Promise<void>;
}

/** Options of {@link fitLoop}. */
export interface FitOptions {
  /** Epochs to train in this call. */
  epochs: number;
  /** Index of the first epoch (0-based), so numbering continues across stages. */
  initialEpoch?: number;
  /** Written into each row's `stage` when set. */
  stage?: string;
  /** Progress and logging hooks. */
  callbacks?: FitCallbacks[];
  /** When aborted, training stops after the current batch; a partial epoch is not validated or recorded, a finished one is. */
  signal?: AbortSignal;
  /**
   * The head's output, for the validation loss and accuracy (must match
   * how the model was compiled and how the labels are encoded). Default
   * `"softmax"`.
   */
  output?: HeadOutput;
  /**
   * Label smoothing of the validation loss (Keras computes `val_loss` with
   * the compiled loss, smoothing included, class weights not). Default 0.
   */
  labelSmoothing?: number;
  /**
   * Trains one batch in place of `model.trainOnBatch` (same contract:
   * resolves to `[loss, accuracy]`, updates `model`'s own weights; the loop
   * still disposes the batch), e.g. ONNX Runtime's fine-tuning steps
   * (`ort_fine_tune.ts`). Default: `model.trainOnBatch`.
   */
  trainStep?: (
    xs: tf.Tensor | tf.Tensor[],
    ys: tf.Tensor2D,
  ) => Promise<number | number[]>;
}

/**
 * Why {@link fitLoop} returned; `"early-stopped"`: a callback's `shouldStop`
 * asked for it (also when that was after the last epoch).
 */
export type StopReason =
  | "completed"
  | "interrupted"
  | "non-finite-loss"
  | "early-stopped";

/** What {@link fitLoop} resolves to. */
export interface FitResult {
  /** One row per completed epoch. */
  rows: MetricsRow[];
  /** Why training ended. */
  stopReason: StopReason;
  /** For a non-finite loss: where it happened. */
  detail?: string;
  /**
   * The last validation pass's class probabilities (`[count, k]`, row-major,
   * in the validation source's epoch-0 order), when the model has not
   * changed since: lets the final evaluation skip a second pass. Absent
   * when training went on after that pass (an interrupt mid-epoch) or there
   * was no validation.
   */
  validationProbabilities?: Float32Array;
}

/**
 * Mean loss and accuracy of `model` over every batch of `source` (epoch 0
 * order), with the class probabilities `[count, k]`: for the softmax head
 * categorical cross-entropy (Keras' clipping at 1e-7) and argmax accuracy;
 * for the logit head (`output: "logit"`, `model` outputs logits, labels
 * 0/1) sigmoid cross-entropy from logits and accuracy at logit > 0 — see
 * `head_output.ts`.
 */
export async function evaluateLoss(
  model: tf.LayersModel,
  source: BatchSource,
  output: HeadOutput = "softmax",
  labelSmoothing = 0,
): Promise<
  { loss: number; accuracy: number; count: number; probabilities: Float32Array }
> {
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  const parts: Float32Array[] = [];
  for await (const { xs, ys } of source.batches(0)) {
    try {
      const [l, c, probs] = tf.tidy(() => {
        const s = batchStats(
          output,
          model.predict(xs) as tf.Tensor,
          ys,
          labelSmoothing,
        );
        return [s.lossSum, s.correct, s.probabilities];
      });
      const [lv, cv, pv] = await Promise.all([
        l.data(),
        c.data(),
        probs.data(),
      ]);
      tf.dispose([l, c, probs]);
      lossSum += lv[0];
      correct += cv[0];
      count += ys.shape[0];
      parts.push(pv as Float32Array);
    } finally {
      tf.dispose([xs, ys]);
    }
  }
  const probabilities = concatRows(parts);
  return count === 0 ? { loss: NaN, accuracy: NaN, count, probabilities } : {
    loss: lossSum / count,
    accuracy: correct / count,
    count,
    probabilities,
  };
}

/**
 * Trains a compiled `model` (loss and accuracy metric as `compileArgs` of
 * `opts.output` gives them) for `opts.epochs` epochs over `train`, validating on `validation` after each
 * epoch. Every batch tensor is disposed; the tensor count is the same from
 * epoch to epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "../deps/tf.ts";
 * import { fitLoop } from "./fit.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: "softmax" })] });
 * model.compile({ optimizer: "adam", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
 * const batch = () => ({
 *   xs: tf.randomNormal([8, 4]),
 *   ys: tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], "int32"), 2) as tf.Tensor2D,
 * });
 * // A source yields fresh batches each epoch; fitLoop disposes them.
 * const source = { count: 8, numBatches: 1, batches: async function* () { yield batch(); } };
 * const { rows, stopReason } = await fitLoop(model, source, source, { epochs: 2 });
 * assert.equal(rows.length, 2);
 * assert.equal(stopReason, "completed");
 * ```
 */
export async function fitLoop(
  model: tf.LayersModel,
  train: BatchSource,
  validation: BatchSource | null,
  opts: FitOptions,
): Promise<FitResult> {
  const result = await epochLoop(model, train, validation, opts);
  for (const cb of opts.callbacks ?? []) await cb.onFitEnd?.(result);
  return result;
}

async function epochLoop(
  model: tf.LayersModel,
  train: BatchSource,
  validation: BatchSource | null,
  opts: FitOptions,
): Promise<FitResult> {
  const callbacks = opts.callbacks ?? [];
  const first = opts.initialEpoch ?? 0;
  const rows: MetricsRow[] = [];
  // The last validation pass's probabilities while the weights are unchanged.
  let fresh: Float32Array | undefined;
  const end = (
    stopReason: StopReason,
    detail?: string,
  ): FitResult => ({
    rows,
    stopReason,
    ...(detail === undefined ? {} : { detail }),
    ...(fresh ? { validationProbabilities: fresh } : {}),
  });
  for (let epoch = first; epoch < first + opts.epochs; epoch++) {
    if (opts.signal?.aborted) return end("interrupted");
    const started = performance.now();
    for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    let index = 0;
    for await (const { xs, ys } of train.batches(epoch)) {
      let out: number | number[];
      const size = ys.shape[0];
      fresh = undefined;
      try {
        out = opts.trainStep
          ? await opts.trainStep(xs, ys)
          : await model.trainOnBatch(xs, ys);
      } finally {
        tf.dispose([xs, ys]);
      }
      const [loss, accuracy] = Array.isArray(out) ? out : [out, NaN];
      if (!Number.isFinite(loss)) {
        return end(
          "non-finite-loss",
          `loss became ${loss} at epoch ${epoch + 1}, batch ${
            index + 1
          }/${train.numBatches}`,
        );
      }
      lossSum += loss * size;
      accSum += accuracy * size;
      seen += size;
      for (const cb of callbacks) {
        await cb.onBatchEnd?.(index, { loss, accuracy, size });
      }
      index++;
      // A stop after the epoch's last batch still validates and records it.
      if (opts.signal?.aborted && index < train.numBatches) {
        return end("interrupted");
      }
    }
    const val = validation && validation.count > 0
      ? await evaluateLoss(
        model,
        validation,
        opts.output,
        opts.labelSmoothing,
      )
      : { loss: NaN, accuracy: NaN, probabilities: undefined };
    fresh = val.probabilities;
    const row: MetricsRow = {
      epoch: epoch + 1,
      loss: lossSum / seen,
      accuracy: accSum / seen,
      val_loss: val.loss,
      val_accuracy: val.accuracy,
      seconds: (performance.now() - started) / 1000,
      lr: learningRateOf(model.optimizer),
    };
    if (opts.stage !== undefined) row.stage = opts.stage;
    rows.push(row);
    for (const cb of callbacks) {
      await cb.onEpochEnd?.(epoch, {
        loss: row.loss,
        accuracy: row.accuracy,
        val_loss: row.val_loss,
        val_accuracy: row.val_accuracy,
      }, row);
    }
    const stop = callbacks.map((cb) => cb.shouldStop?.()).find((s) => s);
    if (stop) return end("early-stopped", stop);
  }
  return end("completed");
}
