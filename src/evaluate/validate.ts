/**
 * The evaluate step of a run: the confusion matrix, per-class report and
 * per-image probabilities of the trained classifier on the validation set.
 * The last epoch's validation pass already computed those probabilities;
 * they are reused unless the weights changed since (best weights restored,
 * or an interrupt mid-epoch), so the validation set is not run twice. For
 * the logit head they are `[σ(−x), σ(x)]` of each image's logit `x`.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { BuiltModel } from "../model/build.ts";
import {
  evaluateModel,
  evaluateProbabilities,
  type Evaluation,
} from "./evaluate.ts";
import type { StopReason } from "../train/fit.ts";
import type { TrainingInputs } from "../train/inputs.ts";
import { imageSource } from "../train/sources.ts";
import { preprocessFor } from "../data/batches.ts";
import { basePreprocess } from "../model/bases.ts";
import type { ImageSet } from "../data/image_set.ts";
import * as tf from "../deps/tf.ts";
import { classProbabilities } from "../train/head_output.ts";
import { applyView, ttaEvaluation, type TtaResult } from "./tta.ts";

/**
 * Evaluates on the validation set (labels in source order), or answers null
 * when there is none or training diverged (non-finite loss). With
 * `train.tta` other than `"none"`, the evaluation returned is that of the
 * views' mean probabilities (`tta.ts`), and `tta` compares it with the plain
 * one: the head on each view's cached features when the frozen stage
 * trained on cached features (and nothing was fine-tuned), else the whole
 * classifier on each view of the images.
 */
export async function evaluateValidation(
  config: Pick<Config, "fineTune"> & {
    train?: Pick<Config["train"], "tta">;
    data?: Pick<Config["data"], "batchSize">;
    /** The base (its preprocessing); default MobileNetV2's. */
    model?: Pick<Config["model"], "architecture">;
  },
  model: BuiltModel,
  inputs: TrainingInputs,
  stop: { stopReason: StopReason; validationProbabilities?: Float32Array },
  data: {
    validation: { labels: ArrayLike<number> } | ImageSet;
    classNames: string[];
  },
): Promise<(Evaluation & { tta?: TtaResult }) | null> {
  const plain = await plainEvaluation(config, model, inputs, stop, data);
  const mode = config.train?.tta ?? "none";
  if (plain === null || mode === "none") return plain;
  const set = data.validation as ImageSet;
  const preprocess = preprocessFor(
    basePreprocess(config.model?.architecture ?? "mobilenet_v2"),
  );
  const onHead = inputs.trainModel === model.fitHead &&
    !config.fineTune.enabled && inputs.validationView !== undefined;
  const { evaluation, tta } = await ttaEvaluation(
    mode,
    async (view) => {
      if (view === "none") return plain.probabilities;
      if (onHead) {
        const features = await inputs.validationView!(
          view,
          (x) => applyView(x, view),
        );
        const out = tf.tidy(() =>
          model.head.predict(
            tf.tensor2d(features.features, [set.count, features.featureSize]),
          ) as tf.Tensor
        );
        try {
          // [n, k] probabilities, or the logit head's sigmoid [n, 1].
          return Float32Array.from(
            classProbabilities(
              await out.data(),
              set.count,
              data.classNames.length,
            ).flat(),
          );
        } finally {
          out.dispose();
        }
      }
      const source = imageSource(set, {
        batchSize: config.data?.batchSize ?? 32,
        shuffle: false,
        seed: 0,
        preprocess: (x) => tf.tidy(() => applyView(preprocess(x), view)),
      });
      return (await evaluateModel(
        model.model,
        source.batches(0),
        data.classNames,
      ))
        .probabilities;
    },
    set.labels,
    data.classNames,
  );
  return { ...evaluation, tta };
}

async function plainEvaluation(
  config: Pick<Config, "fineTune">,
  model: BuiltModel,
  inputs: TrainingInputs,
  stop: { stopReason: StopReason; validationProbabilities?: Float32Array },
  data: { validation: { labels: ArrayLike<number> }; classNames: string[] },
): Promise<Evaluation | null> {
  const { validation, classNames } = data;
  if (inputs.validation.count === 0 || stop.stopReason === "non-finite-loss") {
    return null;
  }
  if (stop.validationProbabilities) {
    return evaluateProbabilities(
      stop.validationProbabilities,
      validation.labels,
      classNames,
    );
  }
  // The probability models (`head`, `model`: a sigmoid for the logit head)
  // on the sources the frozen stage trained on.
  const onHead = inputs.trainModel === model.fitHead &&
    !config.fineTune.enabled;
  return await evaluateModel(
    onHead ? model.head : model.model,
    (onHead ? inputs.validation : inputs.images.validation).batches(0),
    classNames,
  );
}
