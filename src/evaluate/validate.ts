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

/**
 * Evaluates on the validation set (labels in source order), or answers null
 * when there is none or training diverged (non-finite loss).
 */
export async function evaluateValidation(
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
