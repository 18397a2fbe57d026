/**
 * The LR finder's training loop: a fresh optimizer on the model the frozen
 * stage would train (the head on cached features, in a run), one batch per
 * iteration at the learning rate `lr_find.ts` schedules, until it stops.
 * The batches are the training source's epochs in order (reshuffled each
 * epoch, as training would see them); there is no validation pass, and the
 * model is left as the sweep made it — callers build a fresh one and throw
 * it away, which is what fastai's restoring of the weights amounts to.
 *
 * What differs from a fastai `Learner` by design: the optimizer is the
 * run's (`train.optimizer` with its update rule, `train.optimizerRule`),
 * not fastai's Adam (β₂ 0.99, ε 1e-5, decoupled weight decay 0.01); an
 * epoch's last, smaller batch is trained like the others (fastai's training
 * loader drops it). The loss is the one training would use: the head's
 * (`head_output.ts`) with `train.classWeight` and `train.labelSmoothing`
 * applied as in a run (`training_loss.ts`).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { HeadOutput } from "../model/classifier.ts";
import type { BatchSource } from "./fit.ts";
import { compileArgs } from "./head_output.ts";
import type { OptimizerName } from "./keras_optimizers.ts";
import {
  LrFinder,
  type LrFindOptions,
  type LrFindRecord,
  type LrFindStop,
  type LrSuggestions,
  suggestLrs,
} from "./lr_find.ts";
import { makeOptimizer } from "./stages.ts";
import { trainingLoss, type TrainingLossOptions } from "./training_loss.ts";

/** Options of {@link lrSweep}. */
export interface LrSweepOptions {
  /** The finder's settings; fastai's defaults for what is missing. */
  finder?: Partial<LrFindOptions>;
  /** Optimizer (`train.optimizer`); its learning rate is the sweep's. */
  optimizer: OptimizerName;
  /** Keras' update rules (default) or TF.js' own (`train.optimizerRule`). */
  optimizerRule?: "keras" | "tfjs";
  /** The head output the model and labels are in (loss per `head_output.ts`). */
  output?: HeadOutput;
  /**
   * Class weights and label smoothing of the training loss (as
   * `train.classWeight` / `train.labelSmoothing` give them); none by default.
   */
  loss?: TrainingLossOptions;
  /** Called after every iteration (progress display). */
  onIteration?: (record: LrFindRecord, iterations: number) => void;
  /** Stop after the current batch (the records so far are kept). */
  signal?: AbortSignal;
}

/** What {@link lrSweep} resolves to. */
export interface LrSweepResult {
  /** The resolved settings. */
  options: LrFindOptions;
  /** One record per iteration trained. */
  records: LrFindRecord[];
  /** Why the sweep ended. */
  stopReason: LrFindStop;
  /** fastai's suggestions on the records. */
  suggestions: LrSuggestions;
}

/**
 * Sets the learning rate of a TF.js optimizer made by `makeOptimizer`:
 * Keras' Adam / RMSprop and TF.js' Adam / RMSprop read `learningRate` at
 * every step; TF.js' SGD keeps it as a scalar, reset by `setLearningRate`.
 */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // (`instanceof tf.SGDOptimizer` holds for every optimizer: TF.js' classes
  // test instances by their methods.)
  const sgd = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
  };
  if (typeof sgd.setLearningRate === "function") {
    sgd.setLearningRate(lr);
  } else if ("learningRate" in optimizer) {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  } else {
    throw new Error(
      `lr-find: cannot set the learning rate of ${optimizer.getClassName()}`,
    );
  }
}

/**
 * Sweeps the learning rate of `model` (compiled here with a fresh
 * optimizer and the head's loss) over the batches of `train`, epoch after
 * epoch, as fastai's `lr_find` does; see `lr_find.ts` for the schedule,
 * smoothing, stop and suggestions. Every batch tensor is disposed, and so
 * is the optimizer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "../deps/tf.ts";
 * import { featureSource } from "./sources.ts";
 * import { lrSweep } from "./lr_sweep.ts";
 * const n = 64;
 * const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
 * const features = Float32Array.from({ length: n * 4 }, (_, i) =>
 *   (labels[Math.floor(i / 4)] ? 1 : -1) + Math.sin(i));
 * const train = featureSource(
 *   { features, featureSize: 4, labels, numClasses: 2 },
 *   { batchSize: 16, shuffle: true, seed: 1 },
 * );
 * const model = tf.sequential({
 *   layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: "softmax" })],
 * });
 * const r = await lrSweep(model, train, { optimizer: "adam", finder: { numIt: 30 } });
 * assert.ok(r.records.length > 6 && r.records.length <= 30);
 * assert.equal(r.records[0].lr, 1e-7);
 * model.dispose();
 * ```
 */
export async function lrSweep(
  model: tf.LayersModel,
  train: BatchSource,
  opts: LrSweepOptions,
): Promise<LrSweepResult> {
  if (train.numBatches === 0) {
    throw new Error("lr-find: the training split has no images");
  }
  const finder = new LrFinder(opts.finder);
  const optimizer = makeOptimizer(
    opts.optimizer,
    finder.lr,
    opts.optimizerRule ?? "keras",
  );
  const output = opts.output ?? "softmax";
  model.compile({
    optimizer,
    ...compileArgs(output),
    loss: trainingLoss(output, opts.loss),
  });
  try {
    for (let epoch = 0; !finder.done; epoch++) {
      for await (const { xs, ys } of train.batches(epoch)) {
        setLearningRate(optimizer, finder.lr);
        let out: number | number[];
        try {
          out = await model.trainOnBatch(xs, ys);
        } finally {
          tf.dispose([xs, ys]);
        }
        const record = finder.record(Array.isArray(out) ? out[0] : out);
        opts.onIteration?.(record, finder.iterations);
        if (opts.signal?.aborted) finder.interrupt();
        if (finder.done) break;
      }
    }
  } finally {
    optimizer.dispose();
  }
  const stopReason = finder.stopReason!;
  return {
    options: finder.options,
    records: finder.records,
    stopReason,
    suggestions: suggestLrs(finder.records, finder.options, stopReason),
  };
}
